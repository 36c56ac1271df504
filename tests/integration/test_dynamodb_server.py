"""The embedded stack's DynamoDB-API server (dynalite on LevelDB, docs/adr/0010).

It answers what the mirror asks, the way the mirror asks it (its own writer, Query and Scan
code), and it is durable: an item it acknowledged survives a SIGKILL of its process group and a
clean stop, which takes well under the stop timeout.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.mirror.history import query_items
from pipeline.mirror.items import Item, Key, item_digest, key_of
from pipeline.mirror.retry import Deadline
from pipeline.mirror.verify import scan_digests
from pipeline.mirror.writer import DynamoWriter, RetryPolicy
from pipeline.stack import dynamodb_server
from pipeline.stack.dynamodb import ensure_table, load_definition
from pipeline.stack.errors import StackError
from pipeline.stack.layout import Layout
from pipeline.stack.ports import free_port
from pipeline.stack.process import ProcessRecord, is_alive, spawn, stop

pytestmark = pytest.mark.integration

REGION = "us-east-1"
TABLE = "tests-journal"
DEFINITION = Path(__file__).resolve().parents[2] / "schemas" / "dynamodb" / "journal-table.json"
# Every byte value, and a NUL at both ends: binary attributes must come back byte for byte.
PAYLOAD = b"\x00" + bytes(range(256)) + b"\x00"


class Server:
    """One dynalite on a layout; restartable on the same store."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.record: ProcessRecord | None = None
        self.endpoint = ""

    def start(self) -> ProcessRecord:
        port = free_port()
        self.record = spawn(dynamodb_server.spec(self.layout, port, REGION), self.layout.run)
        self.endpoint = dynamodb_server.endpoint_url(port)
        dynamodb_server.wait_ready(self.endpoint, REGION, 30.0, self.record)
        return self.record

    def client(self) -> Any:
        return dynamodb_server.client("dynamodb", self.endpoint, REGION, timeout=30.0)

    def stop(self) -> bool:
        assert self.record is not None
        killed = stop(self.record, self.layout.run)
        self.record = None
        return killed

    def kill(self) -> None:
        assert self.record is not None
        os.killpg(self.record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_alive(self.record):  # also reaps it
            assert time.monotonic() < deadline, "SIGKILLed server still alive"
            time.sleep(0.02)
        self.stop()  # forgets it and removes its pid file


@pytest.fixture(scope="module")
def installed() -> Path:
    return dynamodb_server.ensure_installed()


@pytest.fixture
def server(installed: Path, tmp_path: Path) -> Iterator[Server]:
    running = Server(Layout.of(tmp_path))
    running.start()
    try:
        yield running
    finally:
        if running.record is not None:
            running.stop()


def item(thread: str, seq: int, payload: bytes = PAYLOAD) -> Item:
    """An item shaped like pipeline.mirror.items.to_item's."""
    return {
        "thread_id": {"S": thread},
        "seq_nr": {"N": str(seq)},
        "event_type": {"S": "MessageAdded"},
        "event_id": {"S": f"event-{thread}-{seq}"},
        "command_id": {"S": f"command-{thread}-{seq}"},
        "occurred_at": {"S": "2026-12-03T12:00:00.000Z"},
        "event": {"B": payload},
        "journal_partition": {"N": "3"},
        "journal_offset": {"N": str(seq)},
    }


def create_table(server: Server) -> None:
    assert ensure_table(server.endpoint, REGION, load_definition(DEFINITION, TABLE))


def writer(server: Server) -> DynamoWriter:
    return DynamoWriter(server.client(), TABLE, RetryPolicy(), concurrency=4, sleep=lambda _s: None)


def write(server: Server, items: list[Item]) -> None:
    dynamo = writer(server)
    try:
        report = dynamo.put_batch(items, Deadline.after(60))
    finally:
        dynamo.close()
    assert not report.present
    assert not report.refused


def stored_digests(server: Server) -> dict[Key, bytes]:
    pairs = scan_digests(server.client(), TABLE, segments=4)
    digests = dict(pairs)
    assert len(digests) == len(pairs), "a parallel Scan returned an item twice"
    return digests


def digests_of(items: list[Item]) -> dict[Key, bytes]:
    return {key_of(i): item_digest(i) for i in items}


def test_ensure_installed_is_idempotent(installed: Path) -> None:
    marker = installed.parent / "installed-from.package-lock.json"
    before = marker.stat().st_mtime_ns
    assert dynamodb_server.ensure_installed() == installed
    assert marker.stat().st_mtime_ns == before, "installed again"
    assert (installed / "dynalite" / "index.js").is_file()
    assert (
        dynamodb_server.server_script().read_bytes()
        == (dynamodb_server.PACKAGE / "server.js").read_bytes()
    )


def test_what_the_mirror_asks_round_trips(server: Server) -> None:
    definition = load_definition(DEFINITION, TABLE)
    assert ensure_table(server.endpoint, REGION, definition)
    assert not ensure_table(server.endpoint, REGION, definition)  # exists: left alone
    dynamodb = server.client()
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]) == [
        ("seq_nr", "RANGE"),
        ("thread_id", "HASH"),
    ]

    # 1,000 items in one partition (seq_nr 1..1000: numeric order is not text order), and more.
    items = [item("thread-a", seq) for seq in range(1, 1001)]
    items += [item("thread-b", seq, os.urandom(300)) for seq in range(1, 151)]
    items += [item("t" * 2048, 1)]  # the longest partition key DynamoDB takes
    write(server, items)
    expected = {key_of(i): i for i in items}

    # BatchGetItem (consistent, chunks of 100, an absent key simply missing).
    dynamo = writer(server)
    try:
        keys = [*expected, ("thread-absent", 1)]
        found = dynamo.stored(keys, Deadline.after(60))
        assert found == expected

        # PutItem with ConditionExpression attribute_not_exists: a taken key reports what is
        # stored there (dynalite returns no Item with the failure: the writer asks GetItem).
        taken = item("thread-a", 7, b"another event")
        fresh = item("thread-c", 1)
        report = dynamo.put_conditional([taken, fresh], Deadline.after(60))
        assert report.present == {("thread-a", 7): expected[("thread-a", 7)]}
        assert not report.refused

        # An item over DynamoDB's 400 KB is refused (ValidationException), alone.
        too_large = item("thread-d", 1, os.urandom(409_700))
        report = dynamo.put_batch([item("thread-d", 2), too_large], Deadline.after(60))
        assert set(report.refused) == {("thread-d", 1)}
    finally:
        dynamo.close()
    expected[("thread-c", 1)] = fresh
    expected[("thread-d", 2)] = item("thread-d", 2)

    got = dynamodb.get_item(
        TableName=TABLE,
        Key={"thread_id": {"S": "thread-a"}, "seq_nr": {"N": "7"}},
        ConsistentRead=True,
    )["Item"]
    assert got == expected[("thread-a", 7)]
    assert got["event"]["B"] == PAYLOAD

    # Query with KeyConditionExpression, paged with ExclusiveStartKey, in numeric order.
    for page_size in (7, 500):
        seqs = [
            int(i["seq_nr"]["N"])
            for i in query_items(dynamodb, TABLE, "thread-a", 2, page_size=page_size)
        ]
        assert seqs == list(range(2, 1001))
    assert list(query_items(dynamodb, TABLE, "thread-absent")) == []

    # Scan, four segments each paged: every item exactly once, byte for byte.
    assert stored_digests(server) == digests_of(list(expected.values()))


def test_sigkill_loses_no_acknowledged_item(server: Server) -> None:
    create_table(server)
    write(server, [item("before", seq) for seq in range(1, 2001)])

    # Keep writing and SIGKILL the server mid-stream: what it acknowledged must all be there.
    acknowledged: list[Item] = []
    stop_writing = threading.Event()

    def keep_writing() -> None:
        dynamodb = server.client()
        seq = 0
        while not stop_writing.is_set():
            batch = [item("during", seq + n) for n in range(1, 26)]
            try:
                response = dynamodb.batch_write_item(
                    RequestItems={TABLE: [{"PutRequest": {"Item": i}} for i in batch]}
                )
            except Exception:
                return  # the server is gone
            unprocessed = response["UnprocessedItems"].get(TABLE, [])
            left = {key_of(u["PutRequest"]["Item"]) for u in unprocessed}
            acknowledged.extend(i for i in batch if key_of(i) not in left)
            seq += 25

    thread = threading.Thread(target=keep_writing)
    thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 500:
        assert thread.is_alive(), "the writer failed before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.kill()
    stop_writing.set()
    thread.join(30)
    assert not thread.is_alive()

    server.start()  # same layout, same store
    stored = stored_digests(server)
    wanted = digests_of([item("before", seq) for seq in range(1, 2001)] + acknowledged)
    missing = set(wanted) - set(stored)
    assert not missing, f"{len(missing)} acknowledged items lost, e.g. {sorted(missing)[:3]}"
    assert {k: stored[k] for k in wanted} == wanted
    # Nothing beyond what was sent: at most the one batch in flight at the kill.
    assert len(stored) - len(wanted) <= 25


def test_a_clean_stop_keeps_every_item(server: Server) -> None:
    create_table(server)
    items = [item(f"thread-{n % 40}", n // 40 + 1) for n in range(5000)]
    write(server, items)

    # Within the spec's stop timeout (seconds), without SIGKILL: moto took 42 s here.
    assert not server.stop(), "the server needed a SIGKILL to stop"

    server.start()
    assert stored_digests(server) == digests_of(items)
    assert server.client().describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"


def test_a_table_left_creating_by_a_killed_server_is_named(installed: Path, tmp_path: Path) -> None:
    """dynalite turns a table ACTIVE on a timer; killed before it fires, the table stays
    CREATING for ever and every write to it fails. `stack up` must say so, not hang or pass.
    A slow timer makes the window wide."""
    layout = Layout.of(tmp_path)
    slow = Server(layout)
    spec = dynamodb_server.spec(layout, free_port(), REGION)
    argv = list(spec.argv)
    argv[argv.index("--createTableMs") + 1] = "600000"
    slow.record = spawn(dataclasses.replace(spec, argv=tuple(argv)), layout.run)
    slow.endpoint = dynamodb_server.endpoint_url(int(argv[argv.index("--port") + 1]))
    dynamodb_server.wait_ready(slow.endpoint, REGION, 30.0, slow.record)
    slow.client().create_table(**load_definition(DEFINITION, TABLE))
    slow.kill()

    server = Server(layout)
    server.start()
    try:
        with pytest.raises(StackError, match=r"stuck in CREATING.*DATA_DIR/dynamodb"):
            ensure_table(server.endpoint, REGION, load_definition(DEFINITION, TABLE))
    finally:
        server.stop()


def test_a_client_that_goes_away_mid_request_does_not_end_the_server(server: Server) -> None:
    """dynalite's own handler rethrows the request's ECONNRESET and dies (seen when a mirror
    was SIGKILLed mid-request); the launcher (dynalite/server.js) abandons just that request."""
    create_table(server)
    host, port = server.endpoint.removeprefix("http://").split(":")
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\n"
                b"X-Amz-Target: DynamoDB_20120810.BatchWriteItem\r\n"
                b"Content-Length: 100000\r\n\r\n" + b"{" * 1000
            )
            # A reset, not a polite close: what the kernel does for a killed process.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.3)
    assert server.record is not None
    assert is_alive(server.record), "the server died of a client that went away"
    write(server, [item("thread-1", 1)])
    assert stored_digests(server) == digests_of([item("thread-1", 1)])
