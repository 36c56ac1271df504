"""The Kafka toolkit against the real broker: the batch loop commits a batch only after its
handler returned, the scanner reads exactly [start, end) and fails loudly when stalled, and a
tail follows a partition from an offset."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from pipeline.kafka.batch_loop import BatchLoop, Membership, member_consumer
from pipeline.kafka.records import Record
from pipeline.kafka.scanner import PartitionScanner, PartitionTail, ScanStalledError, scan
from pipeline.stack import Endpoints
from pipeline.stack.topics import admin_client

pytestmark = pytest.mark.integration

PARTITIONS = 3


def new_topic(stack: Endpoints) -> str:
    name = f"test.toolkit.{uuid.uuid4().hex[:12]}"
    # Kept in a variable: a collected AdminClient fails its pending futures.
    admin = admin_client(stack.kafka)
    for future in admin.create_topics([NewTopic(name, PARTITIONS, 1)]).values():
        future.result(timeout=10)
    return name


def produce(stack: Endpoints, topic: str, values: dict[int, list[bytes]]) -> None:
    producer = Producer({"bootstrap.servers": stack.bootstrap_servers, "log_level": 3})
    for partition, items in values.items():
        for value in items:
            producer.produce(topic, value, key=b"k", partition=partition, headers=[("h", b"1")])
    assert producer.flush(15) == 0


def committed(stack: Endpoints, group: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": stack.bootstrap_servers, "group.id": group})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], 10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


def member(stack: Endpoints, group: str) -> Consumer:
    return member_consumer(stack.kafka, Membership(group, group, 6.0, 0.5))


def values(n: int, tag: str) -> list[bytes]:
    return [f"{tag}-{i}".encode() for i in range(n)]


async def test_the_loop_commits_each_batch_after_its_handler_and_reports_lag(
    stack: Endpoints,
) -> None:
    topic = new_topic(stack)
    produce(stack, topic, {0: values(5, "a"), 1: values(3, "b")})
    group = f"test-loop-{uuid.uuid4().hex[:8]}"
    seen: list[Record] = []
    lags: dict[int, int] = {}
    loop: BatchLoop

    async def handle(records: list[Record]) -> None:
        # Nothing of this batch may be committed while its handler runs.
        now = committed(stack, group, topic)
        for record in records:
            assert now.get(record.partition, 0) <= record.offset
        seen.extend(records)
        if len(seen) == 8:
            loop.stop()

    loop = BatchLoop(member(stack, group), topic, handle, batch_max=2, on_lag=lags.__setitem__)
    await asyncio.wait_for(loop.run(), 60)
    loop.close()
    assert sorted((r.partition, r.value) for r in seen) == sorted(
        [(0, v) for v in values(5, "a")] + [(1, v) for v in values(3, "b")]
    )
    assert all(r.headers == (("h", b"1"),) and r.key == b"k" for r in seen)
    assert committed(stack, group, topic) == {0: 5, 1: 3}
    assert lags == {0: 0, 1: 0}


async def test_a_failing_handler_commits_nothing_of_its_batch(stack: Endpoints) -> None:
    topic = new_topic(stack)
    produce(stack, topic, {2: values(4, "c")})
    group = f"test-loop-{uuid.uuid4().hex[:8]}"

    async def handle(records: list[Record]) -> None:
        raise RuntimeError("handler failed")

    loop = BatchLoop(member(stack, group), topic, handle, batch_max=10)
    with pytest.raises(RuntimeError, match="handler failed"):
        await asyncio.wait_for(loop.run(), 60)
    loop.close()
    assert committed(stack, group, topic) == {}


def test_the_scanner_reads_exactly_from_start_to_end(stack: Endpoints) -> None:
    topic = new_topic(stack)
    produce(stack, topic, {0: values(6, "d"), 1: values(2, "e")})
    with PartitionScanner(
        stack.kafka, topic, ends={0: 5, 1: 2, 2: 0}, starts={0: 2}, group_id="test-scan"
    ) as scanner:
        read = [(r.partition, r.offset, r.value) for r in scanner]
    assert sorted(read) == [
        (0, 2, b"d-2"),
        (0, 3, b"d-3"),
        (0, 4, b"d-4"),
        (1, 0, b"e-0"),
        (1, 1, b"e-1"),
    ]
    everything = list(scan(stack.kafka, topic, range(PARTITIONS), group_id="test-scan"))
    assert sorted((r.partition, r.offset) for r in everything) == [
        *((0, o) for o in range(6)),
        (1, 0),
        (1, 1),
    ]


def test_the_scanner_fails_loudly_when_the_end_never_comes(stack: Endpoints) -> None:
    topic = new_topic(stack)
    produce(stack, topic, {0: values(2, "f")})
    with (
        PartitionScanner(
            stack.kafka, topic, ends={0: 3}, group_id="test-scan", stall_s=1.0
        ) as scanner,
        pytest.raises(ScanStalledError, match=r"from partitions \[0\]"),
    ):
        list(scanner)


def test_a_tail_follows_a_partition_from_an_offset(stack: Endpoints) -> None:
    topic = new_topic(stack)
    produce(stack, topic, {1: values(3, "g")})
    tail = PartitionTail(stack.kafka, topic, 1, 2, group_id="test-tail")
    try:
        first = tail.poll(5.0)
        produce(stack, topic, {1: [b"later"], 0: [b"elsewhere"]})
        later: list[Record] = []
        for _ in range(20):
            later.extend(tail.poll(0.5))
            if later:
                break
    finally:
        tail.close()
    assert [(r.offset, r.value) for r in first] == [(2, b"g-2")]
    assert [(r.offset, r.value) for r in later] == [(3, b"later")]
