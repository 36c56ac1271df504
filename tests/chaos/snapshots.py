"""What the chaos run needs of the worker's snapshots, read from outside the worker: the
snapshot topic (its committed records, and the records of rounds that were never committed)
and the catch-up lines a worker logs per claimed partition."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from pipeline.kafka.config import consumer_config
from pipeline.kafka.records import Record, from_confluent
from pipeline.kafka.scanner import STALL_SECONDS, ScanStalledError, read_committed
from pipeline.settings import Settings

GROUP_ID = "chaos-checks"

# pipeline/worker/states.py, ThreadStates.ensure_caught_up.
CAUGHT_UP = re.compile(
    r"caught up partition (?P<partition>\d+): (?P<folded>\d+) events folded "
    r"\((?P<start>\d+)\.\.(?P<end>\d+)\), (?P<restored>\d+) threads restored from snapshots "
    r"at (?P<at>\w+)"
)


@dataclass(frozen=True, slots=True)
class CaughtUp:
    """One partition claimed by one run of a worker, as its log tells it."""

    partition: int
    folded: int
    start: int
    end: int
    restored: int
    restored_from: int | None


def caught_up_lines(log_path: Path, start: int, end: int | None) -> list[CaughtUp]:
    """The catch-up lines of the log's bytes [start, end) (one run of the worker)."""
    with log_path.open("rb") as log:
        log.seek(start)
        text = log.read(-1 if end is None else max(end - start, 0)).decode(errors="replace")
    return [
        CaughtUp(
            int(m["partition"]),
            int(m["folded"]),
            int(m["start"]),
            int(m["end"]),
            int(m["restored"]),
            None if m["at"] == "None" else int(m["at"]),
        )
        for m in CAUGHT_UP.finditer(text)
    ]


def committed(settings: Settings, keys: Iterable[bytes] | None = None) -> list[Record]:
    """The snapshot topic's committed records (of `keys` only, if given), oldest first per
    partition."""
    wanted = None if keys is None else set(keys)
    return [
        record
        for partition in range(settings.partitions)
        for record in read_committed(
            settings.kafka, settings.topics.snapshots, partition, group_id=GROUP_ID
        )
        if wanted is None or record.key in wanted
    ]


def uncommitted(settings: Settings) -> list[Record]:
    """Every data record of the snapshot topic, of committed and aborted rounds alike
    (isolation read_uncommitted; commit and abort markers are never delivered)."""
    return [
        record
        for partition in range(settings.partitions)
        for record in _read_uncommitted(settings, partition)
    ]


def aborted(settings: Settings, committed_records: Iterable[Record]) -> list[Record]:
    """The records of rounds that were never committed: a worker killed (or fenced) in the
    middle of a round, or a round that failed."""
    done = {(r.partition, r.offset) for r in committed_records}
    return [r for r in uncommitted(settings) if (r.partition, r.offset) not in done]


def _read_uncommitted(settings: Settings, partition: int) -> Iterator[Record]:
    consumer = Consumer(
        consumer_config(
            settings.kafka,
            GROUP_ID,
            f"{GROUP_ID}-uncommitted",
            **{"isolation.level": "read_uncommitted", "enable.partition.eof": True},
        )
    )
    try:
        consumer.assign([TopicPartition(settings.topics.snapshots, partition, OFFSET_BEGINNING)])
        last_progress = time.monotonic()
        while True:
            messages = consumer.consume(2000, 0.5)
            for message in messages:
                error = message.error()
                if error is None:
                    yield from_confluent(message)
                elif error.code() == KafkaError._PARTITION_EOF:
                    return
                else:
                    raise KafkaException(error)
            if messages:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_SECONDS:
                raise ScanStalledError(f"snapshots[{partition}]: no record nor end")
    finally:
        consumer.close()
