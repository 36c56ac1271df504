"""The one consumer loop of every component on confluent-kafka (the worker's confluent runtime,
the mirror, the projector): poll a batch, hand it to the component's handler, commit the
batch's offsets once the handler returns, report the lag.

Committing only after the handler returns is what makes every component at-least-once with
idempotent effects: a crash before the commit re-reads the batch, never skips it. Rebalance
callbacks fire only inside `consume`, i.e. between batches, so a partition is never revoked
half-way through one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from pipeline.kafka.config import consumer_config
from pipeline.kafka.records import Record, from_confluent
from pipeline.kafka.security import KafkaConnection

log = logging.getLogger(__name__)

Handler = Callable[[list[Record]], Awaitable[object]]

# Histogram buckets (seconds) of the time a component's handler takes over one batch: its
# `threadweaver_<component>_batch_seconds`, so the components' figures compare bucket by bucket.
BATCH_SECONDS_BUCKETS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True, slots=True)
class Membership:
    """How a component's consumer takes part in its group."""

    group_id: str
    client_id: str
    session_timeout_s: float
    heartbeat_interval_s: float
    # Static membership: a restarted pod gets its partitions back without a rebalance.
    group_instance_id: str | None = None
    # A handler may take this long (retries until a deadline) without leaving the group.
    max_poll_interval_s: float | None = None


def member_consumer(connection: KafkaConnection, membership: Membership) -> Consumer:
    overrides: dict[str, object] = {
        "session.timeout.ms": int(membership.session_timeout_s * 1000),
        "heartbeat.interval.ms": int(membership.heartbeat_interval_s * 1000),
    }
    if membership.group_instance_id:
        overrides["group.instance.id"] = membership.group_instance_id
    if membership.max_poll_interval_s is not None:
        overrides["max.poll.interval.ms"] = int(membership.max_poll_interval_s * 1000)
    return Consumer(
        consumer_config(connection, membership.group_id, membership.client_id, **overrides)
    )


def next_offsets(records: Sequence[Record]) -> dict[tuple[str, int], int]:
    """The offset to commit for each (topic, partition) of a batch: one past its last record."""
    ends: dict[tuple[str, int], int] = {}
    for record in records:
        ends[(record.topic, record.partition)] = record.offset + 1
    return ends


class BatchLoop:
    """Runs `handler` over the batches of `topic` until `stop()`.

    on_revoked(partitions): called before the next batch is handled, for partitions revoked
    since the last one. on_commit_refused(exc): a refused offset commit (typically a partition
    revoked during the batch) is passed here and the loop goes on; without it, it is raised.
    on_lag(partition, lag): after each commit, from the high watermark of the last fetch.
    """

    def __init__(
        self,
        consumer: Consumer,
        topic: str,
        handler: Handler,
        *,
        batch_max: int,
        first_timeout_s: float = 0.2,
        on_revoked: Callable[[list[int]], None] | None = None,
        on_commit_refused: Callable[[KafkaException], None] | None = None,
        on_lag: Callable[[int, int], None] | None = None,
        after_poll: Callable[[], None] | None = None,
        what: str | None = None,
    ) -> None:
        self._consumer = consumer
        self._topic = topic
        self._handler = handler
        self._batch_max = batch_max
        self._first_timeout_s = first_timeout_s
        self._on_revoked = on_revoked
        self._on_commit_refused = on_commit_refused
        self._on_lag = on_lag
        self._after_poll = after_poll
        # What the partitions are, in log lines ("journal", "command").
        self._what = what or self._topic
        self._stop = asyncio.Event()
        # Written by the rebalance callback in the polling thread, read by the loop.
        self._revoked: list[int] = []
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> asyncio.Event:
        return self._stop

    async def run(self) -> None:
        self._consumer.subscribe(
            [self._topic], on_assign=self._assigned, on_revoke=self._revoked_callback
        )
        while not self._stop.is_set():
            messages = await asyncio.to_thread(self._poll)
            with self._lock:
                revoked, self._revoked = self._revoked, []
            if revoked and self._on_revoked is not None:
                self._on_revoked(revoked)
            records = []
            for message in messages:
                if message.error() is not None:
                    log.warning("consumer error on %s: %s", self._what, message.error())
                else:
                    records.append(from_confluent(message))
            if records:
                await self._handler(records)
                self._commit(records)
            if self._after_poll is not None:
                self._after_poll()

    def close(self) -> None:
        """Leave the group (after a clean stop only: a crash must not commit or hand over)."""
        self._consumer.close()

    def _poll(self) -> list[Message]:
        # Block for the first record only, then take what is already fetched: waiting to fill
        # a batch would add its timeout to every record's latency; under load batches grow.
        first = self._consumer.consume(1, self._first_timeout_s)
        if not first or self._batch_max <= 1:
            return first
        return first + self._consumer.consume(self._batch_max - 1, 0)

    def _commit(self, records: Sequence[Record]) -> None:
        offsets = next_offsets(records)
        try:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            if self._on_commit_refused is None:
                raise
            self._on_commit_refused(exc)
            return
        log.debug("batch committed: %d records, next offsets %s", len(records), offsets)
        if self._on_lag is None:
            return
        for (topic, partition), offset in offsets.items():
            # Cached: the high watermark the last Fetch response carried, no request per batch.
            _low, high = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), cached=True
            )
            if high is not None and high >= 0:
                self._on_lag(partition, max(high - offset, 0))

    def _assigned(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("assigned %s partitions %s", self._what, sorted(p.partition for p in partitions))

    def _revoked_callback(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = sorted(p.partition for p in partitions)
        log.info("revoked %s partitions %s", self._what, numbers)
        with self._lock:
            self._revoked.extend(numbers)
