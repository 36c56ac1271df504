"""The topics (docs/architecture.md, Topics), created up front with one partition count for all."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaException

# The public names of confluent_kafka.admin; the package has no __all__, so mypy --strict
# takes them for private re-exports.
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from pipeline.kafka.config import client_config
from pipeline.kafka.security import KafkaConnection
from pipeline.settings import Topics
from pipeline.stack.errors import StackError

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
FOREVER = "-1"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    config: Mapping[str, str] = field(default_factory=dict)


def topic_specs(topics: Topics) -> tuple[TopicSpec, ...]:
    delete = {"cleanup.policy": "delete"}
    return (
        TopicSpec(topics.commands, {**delete, "retention.ms": str(7 * DAY_MS)}),
        # The journal is the truth: kept forever, never compacted.
        TopicSpec(topics.events, {**delete, "retention.ms": FOREVER}),
        # Replies only matter while a caller waits for them.
        TopicSpec(topics.replies, {**delete, "retention.ms": str(HOUR_MS)}),
        TopicSpec(topics.commands_dlq, {**delete, "retention.ms": str(14 * DAY_MS)}),
        # Evidence of a conflicting event at an applied seq_nr: rare, and never to vanish.
        TopicSpec(topics.events_conflicts, {**delete, "retention.ms": FOREVER}),
        # Thread states, a cache of the journal (ADR 0015): only each thread's latest matters.
        # Compacted eagerly so a restoring worker reads little more than one state per thread.
        TopicSpec(
            topics.snapshots,
            {
                "cleanup.policy": "compact",
                "min.cleanable.dirty.ratio": "0.1",
                "segment.ms": str(10 * MINUTE_MS),
                "max.compaction.lag.ms": str(10 * MINUTE_MS),
            },
        ),
    )


def admin_client(connection: KafkaConnection) -> AdminClient:
    return AdminClient(client_config(connection, log_level=3))


def partition_counts(admin: AdminClient, timeout: float = 10.0) -> dict[str, int]:
    metadata = admin.list_topics(timeout=timeout)
    return {
        name: len(topic.partitions)
        for name, topic in metadata.topics.items()
        if topic.error is None and not name.startswith("__")
    }


def _mismatches(counts: Mapping[str, int], names: Iterable[str], partitions: int) -> list[str]:
    return [
        f"{name} has {counts[name]} partitions"
        for name in names
        if name in counts and counts[name] != partitions
    ]


def _mismatch_error(problems: list[str], partitions: int) -> StackError:
    return StackError(
        f"the stack wants {partitions} partitions on every topic, but "
        + "; ".join(problems)
        + ". All topics need the same count (a thread's commands and events share a "
        "partition number) and partitions cannot be added on this broker: run `up` with "
        "--partitions matching the existing topics, or start over with a new data dir."
    )


def describe_config(admin: AdminClient, topic: str, timeout: float = 10.0) -> dict[str, str]:
    """The topic's configuration as the broker reports it (defaults included)."""
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)])
    (future,) = futures.values()
    entries = future.result(timeout=timeout)
    return {name: entry.value for name, entry in entries.items() if entry.value is not None}


def ensure_topics(
    connection: KafkaConnection,
    specs: Iterable[TopicSpec],
    partitions: int,
    timeout: float = 15.0,
) -> list[str]:
    """Create the missing topics; check the existing ones. Returns the names created."""
    wanted = list(specs)
    admin = admin_client(connection)
    counts = partition_counts(admin, timeout)
    problems = _mismatches(counts, (s.name for s in wanted), partitions)
    if problems:
        raise _mismatch_error(problems, partitions)
    missing = [s for s in wanted if s.name not in counts]
    created: list[str] = []
    if missing:
        futures = admin.create_topics(
            [NewTopic(s.name, partitions, 1, config=dict(s.config)) for s in missing],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
                created.append(name)
            except KafkaException as exc:
                # Someone else (a component that auto-created it) may have won the race.
                if "TOPIC_ALREADY_EXISTS" not in str(exc.args[0]):
                    raise StackError(f"could not create topic {name}: {exc}") from exc
        # CreateTopics returns once the controller has them; the broker's metadata cache
        # learns of them a moment later.
        deadline = time.monotonic() + timeout
        while True:
            counts = partition_counts(admin, timeout)
            absent = [s.name for s in wanted if s.name not in counts]
            if not absent:
                break
            if time.monotonic() >= deadline:
                raise StackError(f"topics still missing after creation: {', '.join(absent)}")
            time.sleep(0.1)
        problems = _mismatches(counts, (s.name for s in wanted), partitions)
        if problems:
            raise _mismatch_error(problems, partitions)
    _check_forever(admin, [s for s in wanted if s.config.get("retention.ms") == FOREVER])
    return created


def _check_forever(admin: AdminClient, specs: list[TopicSpec]) -> None:
    """A topic meant to be kept forever that the broker would expire is an error, not a detail."""
    for spec in specs:
        try:
            config = describe_config(admin, spec.name)
        except KafkaException:
            continue  # a broker without DescribeConfigs: nothing to check against
        retention = config.get("retention.ms")
        if retention != FOREVER:
            raise StackError(
                f"topic {spec.name} exists with retention.ms={retention} (unset means the "
                f"broker default); it must be {FOREVER}. It was probably auto-created before "
                "provisioning: start over with a new data dir, or set retention.ms=-1 on it."
            )
