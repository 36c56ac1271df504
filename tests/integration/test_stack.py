"""The embedded stack: its servers answer, it is provisioned, and it starts and stops cleanly.

Tests that write use scratch topics and ids of their own: the session's stack is shared
with other integration tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.security import KafkaConnection
from pipeline.settings import Settings
from pipeline.stack import Endpoints, StackError, read_state, running_state
from pipeline.stack.dynamodb_server import client as aws_client
from pipeline.stack.migrate import apply_migrations_sync
from pipeline.stack.process import ProcessRecord, is_alive
from pipeline.stack.provision import schemas_dir
from pipeline.stack.topics import admin_client, describe_config, ensure_topics, topic_specs
from tests.conftest import stack_data_dir

pytestmark = pytest.mark.integration

THREADWEAVER = [sys.executable, "-m", "pipeline.cli.main"]


# --- helpers ---------------------------------------------------------------------------------


def producer(bootstrap: str, **overrides: Any) -> Producer:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "partitioner": "murmur2_random",
        "acks": "all",
        "enable.idempotence": True,
        "log_level": 3,
    }
    config.update(overrides)
    return Producer(config)


def consumer(bootstrap: str, **overrides: Any) -> Consumer:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": f"test-{uuid.uuid4()}",
        # The broker's group.min.session.timeout.ms: a quick takeover where a test needs one.
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "log_level": 3,
    }
    config.update(overrides)
    return Consumer(config)


def scratch_topic(bootstrap: str, partitions: int) -> str:
    name = f"test.stack.{uuid.uuid4().hex[:12]}"
    # Kept in a variable: a collected AdminClient fails its pending futures.
    admin = admin_client(KafkaConnection.plaintext(bootstrap))
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=10)
    return name


def produce_batch(bootstrap: str, topic: str, partition: int, count: int, tag: str) -> None:
    """`count` records to one partition in a single record batch."""
    # produce() returns at once, so all records are queued well within the linger time.
    p = producer(bootstrap, **{"linger.ms": 100, "batch.num.messages": 10_000})
    for i in range(count):
        p.produce(topic, value=f"{tag}-{i}".encode(), partition=partition)
    assert p.flush(15) == 0


def consume_all(
    bootstrap: str, topic: str, partition: int, isolation: str = "read_uncommitted"
) -> list[bytes]:
    c = consumer(bootstrap, **{"enable.partition.eof": True, "isolation.level": isolation})
    c.assign([TopicPartition(topic, partition, 0)])
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            message = c.poll(0.5)
            if message is None:
                continue
            if message.error():
                break  # end of partition
            values.append(message.value() or b"")
    finally:
        c.close()
    return values


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*THREADWEAVER, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def processes_mentioning(data_dir: Path) -> list[str]:
    """Command lines of live processes that name the data dir (our servers all do)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(data_dir) in cmdline and state != "Z":
            found.append(f"{proc.name}: {cmdline}")
    return found


def assert_all_gone(records: tuple[ProcessRecord, ...], data_dir: Path) -> None:
    assert [r.name for r in records if is_alive(r)] == []
    assert processes_mentioning(data_dir) == []


# --- the shared stack ------------------------------------------------------------------------


def test_a_record_goes_through_the_broker_and_a_consumer_group(stack: Endpoints) -> None:
    topic = scratch_topic(stack.bootstrap_servers, partitions=stack.partitions)
    p = producer(stack.bootstrap_servers)
    p.produce(topic, key=b"thread-1", value=b"hello")
    assert p.flush(10) == 0

    c = consumer(stack.bootstrap_servers)
    c.subscribe([topic])
    try:
        deadline = time.monotonic() + 20
        message = None
        while message is None and time.monotonic() < deadline:
            candidate = c.poll(0.5)
            if candidate is not None and candidate.error() is None:
                message = candidate
        assert message is not None, "no record consumed within 20 s"
        assert (message.key(), message.value()) == (b"thread-1", b"hello")
        c.commit(message=message, asynchronous=False)
    finally:
        c.close()


def test_topics_exist_with_one_partition_count_and_their_retention(
    stack: Endpoints, settings: Settings
) -> None:
    admin = admin_client(stack.kafka)
    metadata = admin.list_topics(timeout=10)
    specs = topic_specs(settings.topics)
    counts = {s.name: len(metadata.topics[s.name].partitions) for s in specs}
    assert counts == {s.name: stack.partitions for s in specs}

    journal = describe_config(admin, settings.topics.events)
    assert journal["retention.ms"] == "-1"
    assert journal["cleanup.policy"] == "delete"
    assert describe_config(admin, settings.topics.replies)["retention.ms"] == "3600000"


def test_provisioning_refuses_a_different_partition_count(
    stack: Endpoints, settings: Settings
) -> None:
    with pytest.raises(StackError, match="partitions"):
        ensure_topics(stack.kafka, topic_specs(settings.topics), stack.partitions + 1)


async def test_the_sql_schema_is_applied_and_round_trips(stack: Endpoints) -> None:
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        tables = {
            row["table_name"]
            for row in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        assert {
            "threads",
            "thread_administrators",
            "thread_members",
            "messages",
            "schema_migrations",
        } <= tables
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 1")

        thread_id = f"T{uuid.uuid4().hex[:25].upper()}"
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute(
                "INSERT INTO threads (id, creator_id, title, created_at, updated_at, version)"
                " VALUES ($1, 'A1', 'title', now(), now(), 1)",
                thread_id,
            )
            await conn.execute(
                "INSERT INTO thread_members (thread_id, account_id, joined_at)"
                " VALUES ($1, 'A2', now())",
                thread_id,
            )
            await conn.execute(
                "INSERT INTO messages (thread_id, id, sender_id, text, to_account_ids,"
                " created_at) VALUES ($1, 'M1', 'A1', 'hi', $2, now())",
                thread_id,
                ["A2"],
            )
            row = await conn.fetchrow(
                "SELECT t.version, m.to_account_ids FROM threads t"
                " JOIN messages m ON m.thread_id = t.id WHERE t.id = $1",
                thread_id,
            )
            assert row is not None
            assert (row["version"], row["to_account_ids"]) == (1, ["A2"])
        finally:
            await transaction.rollback()
    finally:
        await conn.close()

    # Applying again changes nothing.
    assert apply_migrations_sync(stack.pg_dsn, schemas_dir() / "sql") == []


def test_the_journal_table_takes_a_put_and_a_get(stack: Endpoints) -> None:
    dynamodb = aws_client("dynamodb", stack.dynamodb_endpoint, stack.aws_region)
    description = dynamodb.describe_table(TableName=stack.dynamodb_table)["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in description["KeySchema"]} == {
        ("thread_id", "HASH"),
        ("seq_nr", "RANGE"),
    }
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    key = {"thread_id": {"S": f"test-{uuid.uuid4()}"}, "seq_nr": {"N": "1"}}
    item = {**key, "event": {"B": b"\x00avro bytes"}}
    dynamodb.put_item(
        TableName=stack.dynamodb_table,
        Item=item,
        ConditionExpression="attribute_not_exists(thread_id)",
    )
    try:
        assert dynamodb.get_item(TableName=stack.dynamodb_table, Key=key)["Item"] == item
    finally:
        dynamodb.delete_item(TableName=stack.dynamodb_table, Key=key)


def test_up_again_reuses_the_running_stack(stack: Endpoints) -> None:
    before = read_state(stack.data_dir)
    assert before is not None
    started = time.monotonic()
    result = cli("stack", "up", "--data-dir", str(stack.data_dir))
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "already running: reusing it" in result.stdout
    # Mostly the interpreter's start-up: nothing is started, only checked.
    assert elapsed < 15
    after = read_state(stack.data_dir)
    assert after is not None
    assert [p.pid for p in after.processes] == [p.pid for p in before.processes]


def test_env_prints_the_settings_and_dummy_aws_credentials(stack: Endpoints) -> None:
    result = cli("stack", "env", "--data-dir", str(stack.data_dir))
    assert result.returncode == 0, result.stderr
    lines = set(result.stdout.splitlines())
    assert f"export THREADWEAVER_BOOTSTRAP_SERVERS={stack.bootstrap_servers}" in lines
    assert f"export THREADWEAVER_DYNAMODB_ENDPOINT={stack.dynamodb_endpoint}" in lines
    assert f"export THREADWEAVER_PARTITIONS={stack.partitions}" in lines
    assert "export AWS_ACCESS_KEY_ID=testing" in lines
    assert "export AWS_SECRET_ACCESS_KEY=testing" in lines
    env = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert Settings.from_env({k: v.strip("'") for k, v in env.items()}).pg_dsn == stack.pg_dsn


# --- Kafka's own answers: ListOffsets and transactions ---------------------------------------


def test_list_offsets_latest_is_the_true_end_after_batched_produces(stack: Endpoints) -> None:
    """What tansu 0.6 got wrong (the base offset of the last batch + 1) and Kafka gets right;
    catch-up, the mirror and the projector rely on it."""
    topic = scratch_topic(stack.bootstrap_servers, partitions=3)
    produce_batch(stack.bootstrap_servers, topic, 0, 10, "a")
    produce_batch(stack.bootstrap_servers, topic, 0, 5, "b")
    produce_batch(stack.bootstrap_servers, topic, 1, 1, "c")
    # Partition 2 stays empty.
    true_ends = {p: len(consume_all(stack.bootstrap_servers, topic, p)) for p in range(3)}
    assert true_ends == {0: 15, 1: 1, 2: 0}
    assert end_offsets(stack.kafka, topic, range(3)) == true_ends
    assert end_offsets(stack.kafka, topic, []) == {}
    c = consumer(stack.bootstrap_servers)
    try:
        _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
    finally:
        c.close()
    assert high == 15


def test_the_broker_runs_transactions(stack: Endpoints) -> None:
    """Committed records are visible to a read_committed consumer, aborted ones are not."""
    topic = scratch_topic(stack.bootstrap_servers, partitions=1)
    p = producer(stack.bootstrap_servers, **{"transactional.id": f"test-{uuid.uuid4()}"})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic, value=b"committed-1", partition=0)
    p.commit_transaction(30)
    p.begin_transaction()
    p.produce(topic, value=b"aborted", partition=0)
    p.flush(10)  # on the broker's log, then aborted
    p.abort_transaction(30)
    p.begin_transaction()
    p.produce(topic, value=b"committed-2", partition=0)
    p.commit_transaction(30)

    committed = consume_all(stack.bootstrap_servers, topic, 0, "read_committed")
    everything = consume_all(stack.bootstrap_servers, topic, 0, "read_uncommitted")
    assert committed == [b"committed-1", b"committed-2"]
    assert everything == [b"committed-1", b"aborted", b"committed-2"]


# --- private stacks: start, stop, restart ----------------------------------------------------


def _write_one_of_each(endpoints: Endpoints, marker: str) -> None:
    p = producer(endpoints.bootstrap_servers)
    p.produce("threadweaver.thread-events", key=marker.encode(), value=marker.encode())
    assert p.flush(10) == 0
    aws_client("dynamodb", endpoints.dynamodb_endpoint, endpoints.aws_region).put_item(
        TableName=endpoints.dynamodb_table,
        Item={"thread_id": {"S": marker}, "seq_nr": {"N": "1"}},
    )

    async def insert() -> None:
        conn = await asyncpg.connect(endpoints.pg_dsn)
        try:
            await conn.execute(
                "INSERT INTO threads (id, creator_id, title, created_at, updated_at, version)"
                " VALUES ($1, 'A1', 'kept', now(), now(), 1)",
                marker,
            )
        finally:
            await conn.close()

    asyncio.run(insert())


def _read_one_of_each(endpoints: Endpoints, marker: str) -> dict[str, bool]:
    journal = [
        v
        for partition in range(endpoints.partitions)
        for v in consume_all(endpoints.bootstrap_servers, "threadweaver.thread-events", partition)
    ]
    item = (
        aws_client("dynamodb", endpoints.dynamodb_endpoint, endpoints.aws_region)
        .get_item(
            TableName=endpoints.dynamodb_table,
            Key={"thread_id": {"S": marker}, "seq_nr": {"N": "1"}},
        )
        .get("Item")
    )

    async def select() -> bool:
        conn = await asyncpg.connect(endpoints.pg_dsn)
        try:
            return bool(await conn.fetchval("SELECT 1 FROM threads WHERE id = $1", marker))
        finally:
            await conn.close()

    return {
        "kafka": marker.encode() in journal,
        "dynamodb": item is not None,
        "postgres": asyncio.run(select()),
    }


@pytest.mark.slow
def test_up_down_restart_and_a_stale_stack(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = stack_data_dir(tmp_path_factory, "lifecycle")
    marker = f"MARKER-{uuid.uuid4().hex}"  # unique, should THREADWEAVER_PG_DSN name a shared DB
    try:
        first = cli("stack", "up", "--data-dir", str(data_dir), "--partitions", "2")
        assert first.returncode == 0, first.stderr
        state = running_state(data_dir)
        assert state is not None, "the servers did not outlive `stack up`"
        assert [p.name for p in state.processes] == ["kafka", "postgres", "dynamodb"]
        assert state.endpoints.partitions == 2
        _write_one_of_each(state.endpoints, marker)

        stopped = cli("stack", "down", "--data-dir", str(data_dir))
        assert stopped.returncode == 0, stopped.stderr
        assert "stopped: kafka, postgres, dynamodb" in stopped.stdout
        assert not (data_dir / "stack.json").exists()
        assert_all_gone(state.processes, data_dir)

        # A clean restart keeps everything on the same ports.
        second = cli("stack", "up", "--data-dir", str(data_dir))
        assert second.returncode == 0, second.stderr
        restarted = running_state(data_dir)
        assert restarted is not None
        assert restarted.ports == state.ports
        assert restarted.endpoints.partitions == 2
        assert _read_one_of_each(restarted.endpoints, marker) == {
            "kafka": True,
            "dynamodb": True,
            "postgres": True,
        }

        # A crash: everything SIGKILLed, stack.json left behind.
        for record in restarted.processes:
            os.kill(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(is_alive(r) for r in restarted.processes) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cli("stack", "env", "--data-dir", str(data_dir)).returncode == 1
        third = cli("stack", "up", "--data-dir", str(data_dir))
        assert third.returncode == 0, third.stderr
        recovered = running_state(data_dir)
        assert recovered is not None
        assert {p.pid for p in recovered.processes}.isdisjoint(p.pid for p in restarted.processes)
        # Every server kept what it acknowledged.
        assert _read_one_of_each(recovered.endpoints, marker) == {
            "kafka": True,
            "dynamodb": True,
            "postgres": True,
        }

        final = cli("stack", "down", "--data-dir", str(data_dir))
        assert final.returncode == 0, final.stderr
        assert_all_gone(recovered.processes, data_dir)
        assert "no stack was running" in cli("stack", "down", "--data-dir", str(data_dir)).stdout
    finally:
        cli("stack", "down", "--data-dir", str(data_dir))


@pytest.mark.slow
def test_up_in_a_0700_directory_and_recovering_each_killed_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A clone in a directory only its owner may enter (as /root is); then each server is
    SIGKILLed on its own and `up` restarts just that one, with its data."""
    private = tmp_path_factory.mktemp("private")
    data_dir = private / "clone" / ".data"
    data_dir.mkdir(parents=True)
    for directory in (private, private / "clone", data_dir):
        directory.chmod(0o700)
    marker = f"MARKER-{uuid.uuid4().hex}"
    try:
        first = cli("stack", "up", "--data-dir", str(data_dir), "--partitions", "1")
        assert first.returncode == 0, first.stdout + first.stderr
        state = running_state(data_dir)
        assert state is not None
        _write_one_of_each(state.endpoints, marker)
        for victim in ("postgres", "dynamodb", "kafka"):
            before = running_state(data_dir)
            assert before is not None
            record = next(r for r in before.processes if r.name == victim)
            os.killpg(record.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while is_alive(record):
                assert time.monotonic() < deadline, f"{victim} survived SIGKILL"
                time.sleep(0.05)
            again = cli("stack", "up", "--data-dir", str(data_dir))
            assert again.returncode == 0, again.stdout + again.stderr
            assert f"restarting {victim}" in again.stdout
            after = running_state(data_dir)
            assert after is not None
            pids = {r.name: r.pid for r in after.processes}
            assert pids[victim] != record.pid
            assert {n: p for n, p in pids.items() if n != victim} == {
                r.name: r.pid for r in before.processes if r.name != victim
            }
            assert after.endpoints == before.endpoints
            assert _read_one_of_each(after.endpoints, marker) == {
                "kafka": True,
                "dynamodb": True,
                "postgres": True,
            }
    finally:
        cli("stack", "down", "--data-dir", str(data_dir))


@pytest.fixture(scope="module")
def run_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = stack_data_dir(tmp_path_factory, "run")
    yield data_dir
    cli("stack", "down", "--data-dir", str(data_dir))


def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_stops_everything_on_a_signal(run_data_dir: Path, signum: signal.Signals) -> None:
    proc = subprocess.Popen(
        [*THREADWEAVER, "run", "--data-dir", str(run_data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=_lines, args=(proc.stdout, output), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while not any(line.startswith("running;") for line in seen):
            assert proc.poll() is None, "".join(seen)
            assert time.monotonic() < deadline, "".join(seen)
            try:
                seen.append(output.get(timeout=0.5))
            except queue.Empty:
                continue
        text = "".join(seen)
        assert "started worker (pid" in text
        assert "export THREADWEAVER_BOOTSTRAP_SERVERS=" in text
        state = json.loads((run_data_dir / "stack.json").read_text())
        records = tuple(ProcessRecord.from_json(p) for p in state["processes"])
        assert all(is_alive(r) for r in records)

        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    while not output.empty():
        seen.append(output.get())
    assert f"{signum.name}: stopping" in "".join(seen)
    assert not (run_data_dir / "stack.json").exists()
    assert_all_gone(records, run_data_dir)
