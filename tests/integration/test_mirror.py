"""The journal mirror as a process against the embedded stack: exactly one item per
(thread_id, seq_nr) through duplicates, conflicts, poison records, throttling and SIGKILLs."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline.client.commands import new_id
from pipeline.codec import encode_event
from pipeline.kafka.offsets import end_offsets
from pipeline.mirror import GROUP_ID
from pipeline.mirror.aws import dynamodb_client
from pipeline.mirror.history import query_items
from pipeline.settings import Settings
from pipeline.stack.ports import free_port
from tests.support.faulty_mirror import FAULTS_VARIABLE
from tests.support.journal import JournalProducer, SyntheticJournal, conflicting
from tests.support.kafka import Record, read_topic
from tests.support.processes import Component, component_env, launcher, supervised, threadweaver

pytestmark = pytest.mark.integration

CATCH_UP_TIMEOUT = 120.0
METRICS_OFF = {"THREADWEAVER_MIRROR_METRICS_PORT": "0"}


def mirror(settings: Settings, log_dir: Path, name: str = "mirror", **env: str) -> Component:
    components = launcher(settings, log_dir)
    if FAULTS_VARIABLE in env:
        # The shipped mirror has no fault setting: the tests' entry point installs them.
        argv = [sys.executable, "-m", "tests.support.faulty_mirror"]
        return components.process(name, argv, env={**METRICS_OFF, **env})
    return components.mirror(name, env={**METRICS_OFF, **env})


@pytest.fixture
def settings(stack: Any) -> Settings:
    return stack.settings()  # type: ignore[no-any-return]


@pytest.fixture
def dynamodb(settings: Settings) -> Any:
    return dynamodb_client(settings, sdk_attempts=5)


@pytest.fixture
def running(settings: Settings, tmp_path: Path) -> Iterator[Component]:
    with supervised(mirror(settings, tmp_path)) as component:
        yield component


def committed(settings: Settings) -> dict[int, int]:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": GROUP_ID,
            "enable.auto.commit": False,
        }
    )
    try:
        offsets = consumer.committed(
            [TopicPartition(settings.topics.events, p) for p in range(settings.partitions)],
            timeout=10,
        )
    finally:
        consumer.close()
    return {tp.partition: max(tp.offset, 0) for tp in offsets}


def wait_caught_up(settings: Settings, component: Component) -> None:
    """Until the group's commits reach the journal's end (as it is now)."""
    ends = end_offsets(settings.kafka, settings.topics.events, range(settings.partitions))
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    while True:
        positions = committed(settings)
        if all(positions[p] >= end for p, end in ends.items()):
            return
        assert component.alive(), component.log_tail()
        assert time.monotonic() < deadline, f"{positions} vs {ends}\n{component.log_tail()}"
        time.sleep(0.3)


def dead_letters(settings: Settings) -> list[Record]:
    return read_topic(
        settings.bootstrap_servers, settings.topics.events_conflicts, settings.partitions
    )


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return threadweaver(*args, env=component_env(settings), timeout=300)


def test_duplicates_conflicts_and_poison_records(
    settings: Settings, dynamodb: Any, running: Component
) -> None:
    synthetic = SyntheticJournal(seed=41, threads=1, commands=5)
    first, *rest = synthetic.events
    thread = first.thread_id
    rewritten = conflicting(first)
    journal = JournalProducer(settings.bootstrap_servers, settings.partitions)
    journal.send([first, first])  # an identical re-append: one item
    journal.send([rewritten])  # a different event at seq_nr 1: a conflict
    garbage = b"\xc3\x01 not an event " + new_id().encode()
    journal.send_raw(thread, garbage)  # in the thread's partition, before its next events
    journal.send(rest)
    journal.flush()
    wait_caught_up(settings, running)

    items = list(query_items(dynamodb, settings.dynamodb_table, thread))
    assert [int(i["seq_nr"]["N"]) for i in items] == [e.seq_nr for e in synthetic.events]
    assert items[0]["event"]["B"] == encode_event(first)  # unchanged by the conflict
    assert items[0]["event_id"]["S"] == first.event_id

    letters = {r.value: r for r in dead_letters(settings)}
    assert encode_event(first) not in letters
    conflict = letters[encode_event(rewritten)]
    assert conflict.key == thread.encode()
    assert conflict.headers["threadweaver-dlq-reason"] == b"CONFLICT"
    assert conflict.headers["threadweaver-stored-event-id"] == first.event_id.encode()
    assert letters[garbage].headers["threadweaver-dlq-reason"] == b"UNDECODABLE"
    assert letters[garbage].headers["threadweaver-source-topic"] == settings.topics.events.encode()

    # The read side, through the command line.
    history = cli(settings, "journal", "history", thread, "--from-seq", "2")
    assert history.returncode == 0, history.stderr
    lines = [json.loads(line) for line in history.stdout.splitlines()]
    assert [line["event_id"] for line in lines] == [e.event_id for e in rest]
    assert [line["seq_nr"] for line in lines] == list(range(2, len(rest) + 2))
    nothing = cli(settings, "journal", "history", new_id())
    assert nothing.returncode == 1


def metric(port: int, name: str, **labels: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if wanted else "")
    match = re.search(rf"^{pattern} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_throttling_unprocessed_items_and_a_refused_item_are_survived(
    settings: Settings, dynamodb: Any, tmp_path: Path
) -> None:
    synthetic = SyntheticJournal(seed=42, threads=30, commands=400)
    poison = SyntheticJournal(seed=43, threads=1)
    (poisoned,) = poison.events
    port = free_port()
    component = mirror(
        settings,
        tmp_path,
        "mirror-faulty",
        THREADWEAVER_MIRROR_METRICS_PORT=str(port),
        THREADWEAVER_MIRROR_FAULTS=(
            f"throttle=25,unprocessed=6,unprocessed_keys=4,reject={poisoned.thread_id}"
        ),
        THREADWEAVER_MIRROR_BACKOFF_CAP_S="0.2",
        THREADWEAVER_MIRROR_MAX_ATTEMPTS="3",
    )
    component.start()
    try:
        journal = JournalProducer(settings.bootstrap_servers, settings.partitions)
        journal.send(synthetic.events[:200])
        journal.send([poisoned])
        journal.send(synthetic.events[200:])
        journal.flush()
        wait_caught_up(settings, component)
        throttles = sum(
            metric(port, "threadweaver_mirror_throttles_total", operation=op)
            for op in ("BatchGetItem", "BatchWriteItem", "PutItem", "GetItem")
        )
        assert throttles == 25
        unprocessed = "threadweaver_mirror_unprocessed_total"
        assert metric(port, unprocessed, operation="BatchWriteItem") >= 6
        assert metric(port, unprocessed, operation="BatchGetItem") >= 4
        assert metric(port, "threadweaver_mirror_dead_letters_total", reason="REJECTED") == 1
        assert metric(port, "threadweaver_mirror_items_written_total") >= len(synthetic.events)
    finally:
        assert component.stop() == 0, component.log_tail()

    for thread_id in synthetic.thread_ids:
        stored = [
            i["event"]["B"] for i in query_items(dynamodb, settings.dynamodb_table, thread_id)
        ]
        assert stored == [encode_event(e) for e in synthetic.events if e.thread_id == thread_id]
    assert list(query_items(dynamodb, settings.dynamodb_table, poisoned.thread_id)) == []
    refused = [r for r in dead_letters(settings) if r.value == encode_event(poisoned)]
    assert [r.headers["threadweaver-dlq-reason"] for r in refused] == [b"REJECTED"]


MID_BATCH = re.compile(rb"batch of \d+ records: mirroring|batch committed")


def batch_lines(component: Component) -> list[bytes]:
    """The batch log lines of the mirror's current run."""
    return MID_BATCH.findall(component.run_log())


def uncommitted_items(dynamodb: Any, settings: Settings) -> int:
    """Items written from journal records beyond the group's committed offsets."""
    positions = committed(settings)
    clauses = " OR ".join(
        f"(journal_partition = :p{p} AND journal_offset >= :o{p})" for p in positions
    )
    values = {f":p{p}": {"N": str(p)} for p in positions}
    values |= {f":o{p}": {"N": str(o)} for p, o in positions.items()}
    request: dict[str, Any] = {
        "TableName": settings.dynamodb_table,
        "Select": "COUNT",
        "FilterExpression": clauses,
        "ExpressionAttributeValues": values,
    }
    count = 0
    while True:
        response = dynamodb.scan(**request)
        count += response["Count"]
        if "LastEvaluatedKey" not in response:
            return count
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def kill_mid_batch(component: Component, rng: random.Random) -> bool:
    """Once the mirror has committed a batch in this run, SIGKILL it shortly after it starts
    another; True if it died between a batch's start and its commit."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    while b"batch committed" not in batch_lines(component):
        assert component.alive(), component.log_tail()
        assert time.monotonic() < deadline, "no batch in this run\n" + component.log_tail()
        time.sleep(0.01)
    deadline = time.monotonic() + 5.0
    while not batch_lines(component)[-1].endswith(b"mirroring") and time.monotonic() < deadline:
        time.sleep(0.005)
    # Past the look-up, into the writes (DynamoDB calls take 30 ms more each here).
    time.sleep(rng.uniform(0.1, 0.3))
    component.kill()
    return batch_lines(component)[-1].endswith(b"mirroring")


@pytest.mark.slow
def test_exactly_once_per_key_under_sigkill(
    settings: Settings, dynamodb: Any, tmp_path: Path
) -> None:
    rng = random.Random(20261122)
    synthetic = SyntheticJournal(seed=44, threads=150, commands=3200)
    events = synthetic.events
    # Identical re-appends, as a worker makes after a crash: still one item each.
    reappended = rng.sample(events, 60)
    half = len(events) // 2
    journal = JournalProducer(settings.bootstrap_servers, settings.partitions)
    journal.send(events[:half] + reappended[:30])
    journal.flush()

    component = mirror(
        settings,
        tmp_path,
        "mirror-killed",
        THREADWEAVER_MIRROR_LOG_LEVEL="DEBUG",
        THREADWEAVER_MIRROR_BATCH_MAX="250",
        THREADWEAVER_MIRROR_CONCURRENCY="2",
        # Slower DynamoDB calls keep a backlog (and so a batch in flight) between kills.
        THREADWEAVER_MIRROR_FAULTS="delay=0.03",
    )
    component.start()
    kills: list[str] = []
    mid_batch_kills = 0
    try:
        while mid_batch_kills < 3:
            assert len(kills) < 8, kills
            mid_batch = kill_mid_batch(component, rng)
            # Acknowledged by DynamoDB, not committed to Kafka: what a restart must not repeat.
            in_flight = uncommitted_items(dynamodb, settings)
            kills.append(
                f"SIGKILL {'mid-batch' if mid_batch else 'between batches'}, "
                f"{in_flight} items beyond the committed offsets"
            )
            mid_batch_kills += mid_batch and in_flight > 0
            if len(kills) == 2:
                # More of the journal arrives while the mirror is down.
                journal.send(events[half:] + reappended[30:])
                journal.flush()
            component.start()
        wait_caught_up(settings, component)
    finally:
        code = component.stop()
    print("\nkills:\n  " + "\n  ".join(kills))
    assert code == 0, component.log_tail()

    verify = cli(settings, "journal", "verify", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert report["differences"] == 0, report
    assert report["journal_duplicates"] >= len(reappended)
    assert report["table_items"] >= len(events)


def test_create_table_command(settings: Settings, dynamodb: Any) -> None:
    name = f"threadweaver-journal-{new_id().lower()}"
    created = cli(settings, "dynamodb", "create-table", "--table", name, "--poll-s", "0.2")
    assert created.returncode == 0, created.stdout + created.stderr
    assert json.loads(created.stdout) == {
        "table": name,
        "region": settings.aws_region,
        "endpoint": settings.dynamodb_endpoint,
        "created": True,
    }
    again = cli(settings, "dynamodb", "create-table", "--table", name)
    assert json.loads(again.stdout)["created"] is False
    keys = dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]
    assert {(k["AttributeName"], k["KeyType"]) for k in keys} == {
        ("thread_id", "HASH"),
        ("seq_nr", "RANGE"),
    }
    dynamodb.delete_table(TableName=name)
