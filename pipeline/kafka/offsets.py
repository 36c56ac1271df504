"""Where partitions end: Kafka's own ListOffsets answer.

"End" is the offset one past the last record, i.e. the high watermark: the latest offset at
isolation read_uncommitted; for the one topic written in transactions (snapshots), the last
stable offset on request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from pipeline.kafka.config import client_config
from pipeline.kafka.security import KafkaConnection

# Answers that only mean "not yet": a topic just created (its leader not elected or not yet in
# the metadata; seen for ~20 ms after CreateTopics on one node), a leader moving or restarting
# (its high watermark unknown until it caught up: OFFSET_NOT_AVAILABLE), a broker unreachable.
# librdkafka does not retry them for ListOffsets, nor mark them retriable.
TRANSIENT = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._NOENT,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.REPLICA_NOT_AVAILABLE,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.OFFSET_NOT_AVAILABLE,
    }
)
FIRST_PAUSE_S = 0.02
MAX_PAUSE_S = 1.0
# librdkafka ends a request at its request_timeout itself; this margin only guards against a
# future it would never complete.
FUTURE_MARGIN_S = 5.0


def end_offsets(
    connection: KafkaConnection,
    topic: str,
    partitions: Iterable[int],
    timeout: float = 10.0,
    *,
    committed: bool = False,
) -> dict[int, int]:
    """The end offset of each partition of `topic`, asked in one ListOffsets call (repeated
    for the partitions whose answer was only "not yet"). `committed`: the last stable offset
    (what a read_committed consumer reads up to) rather than the high watermark.

    Raises TimeoutError naming the partitions still unanswered (and the last answer) after
    `timeout` seconds, and KafkaException naming the partition at once for an answer that
    waiting cannot change (an authorization failure, say).
    """
    pending = sorted(set(partitions))
    if not pending:
        return {}
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    admin = AdminClient(client_config(connection, log_level=3))
    deadline = time.monotonic() + timeout
    pause = FIRST_PAUSE_S
    last: KafkaError | None = None
    ends: dict[int, int] = {}
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(
                f"no end offset within {timeout:g} s for {topic} partitions {pending}"
                + (f" (last answer: {last.str()})" if last is not None else "")
            )
        futures = admin.list_offsets(
            {TopicPartition(topic, p): latest for p in pending},
            isolation_level=(
                IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
            ),
            request_timeout=remaining,
        )
        again: list[int] = []
        for tp, future in futures.items():
            try:
                info = future.result(timeout=remaining + FUTURE_MARGIN_S)
            except TimeoutError:
                raise TimeoutError(
                    f"ListOffsets for {topic}[{tp.partition}] never completed"
                ) from None
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.code() not in TRANSIENT and not error.retriable():
                    raise KafkaException(
                        KafkaError(
                            error.code(), f"end offset of {topic}[{tp.partition}]: {error.str()}"
                        )
                    ) from exc
                last = error
                again.append(tp.partition)
                continue
            ends[tp.partition] = int(info.offset)
        if not again:
            return dict(sorted(ends.items()))
        pending = sorted(again)
        time.sleep(max(min(pause, deadline - time.monotonic()), 0.0))
        pause = min(pause * 2, MAX_PAUSE_S)
