"""Waiting for the system to be quiet: every consumer group has committed up to the end of
what it reads (the workers the command topic, then the mirror and the projector the
journal as it ends once the workers are done)."""

from __future__ import annotations

import asyncio
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from pipeline.kafka.config import consumer_config
from pipeline.kafka.offsets import end_offsets
from pipeline.settings import Settings
from tests.chaos.system import System


def committed(settings: Settings, group_id: str, topic: str) -> dict[int, int]:
    """The group's committed offsets (0 where it has none), read without joining it."""
    consumer = Consumer(
        consumer_config(
            settings.kafka, group_id=group_id, client_id=f"chaos-quiesce-{uuid.uuid4().hex[:6]}"
        )
    )
    try:
        offsets = consumer.committed(
            [TopicPartition(topic, p) for p in range(settings.partitions)], timeout=10
        )
    finally:
        consumer.close()
    return {tp.partition: max(tp.offset, 0) for tp in offsets}


def ends(settings: Settings, topic: str) -> dict[int, int]:
    return end_offsets(settings.kafka, topic, range(settings.partitions))


async def wait_committed(
    settings: Settings,
    group_id: str,
    topic: str,
    system: System,
    timeout_s: float,
) -> dict[int, int]:
    """Until `group_id` has committed `topic` up to its end as it is now; the ends."""
    target = await asyncio.to_thread(ends, settings, topic)
    deadline = time.monotonic() + timeout_s
    while True:
        positions = await asyncio.to_thread(committed, settings, group_id, topic)
        if all(positions.get(p, 0) >= end for p, end in target.items()):
            return target
        if time.monotonic() > deadline:
            raise AssertionError(
                f"group {group_id} did not reach the end of {topic} in {timeout_s:.0f} s: "
                f"committed {positions}, ends {target}\n{system.log_tails()}"
            )
        await asyncio.sleep(0.5)
