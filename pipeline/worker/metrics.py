"""Prometheus metrics of the aggregate worker."""

from __future__ import annotations

from functools import lru_cache

from prometheus_client import Counter, Gauge, Histogram

from pipeline.kafka.batch_loop import BATCH_SECONDS_BUCKETS

COMMANDS = Counter(
    "threadweaver_worker_commands_total",
    "Commands handled, by command type, outcome and rejection reason.",
    ["command", "outcome", "reason"],
)


@lru_cache(maxsize=1024)
def commands(command: str, outcome: str, reason: str) -> Counter:
    """The child counter of one label set: `labels()` per command showed in profiles."""
    return COMMANDS.labels(command, outcome, reason)


DEAD_LETTERS = Counter(
    "threadweaver_worker_dead_letters_total",
    "Command records sent to the dead-letter topic, by reason.",
    ["reason"],
)
DECIDE_SECONDS = Histogram(
    "threadweaver_worker_decide_seconds",
    "Time to decide one command (pure domain).",
    buckets=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1),
)
BATCH_SECONDS = Histogram(
    "threadweaver_worker_batch_seconds",
    "Time to handle one batch of commands, appends and replies acknowledged.",
    buckets=BATCH_SECONDS_BUCKETS,
)
CATCH_UP_EVENTS = Counter(
    "threadweaver_worker_catch_up_events_total",
    "Journal events folded while catching up a partition.",
    ["partition"],
)
STANDBY_EVENTS = Counter(
    "threadweaver_worker_standby_events_total",
    "Journal events folded into the store for partitions owned by another worker.",
    ["partition"],
)
REBUILDS = Counter(
    "threadweaver_worker_partition_rebuilds_total",
    "Partitions whose local state was rebuilt from the start of the journal.",
    ["partition"],
)
CONSUMER_LAG = Gauge(
    "threadweaver_worker_consumer_lag",
    "Commands not yet handled in a partition (high watermark - next offset).",
    ["partition"],
)
SNAPSHOT_ROUNDS = Counter(
    "threadweaver_worker_snapshot_rounds_total",
    "Snapshot rounds (one transaction of a partition's changed thread states), by result.",
    ["result"],
)
SNAPSHOTS_WRITTEN = Counter(
    "threadweaver_worker_snapshots_written_total",
    "Thread snapshots written in committed rounds.",
)
SNAPSHOTS_OMITTED = Counter(
    "threadweaver_worker_snapshots_omitted_total",
    "Thread states too large for one record, written as StateOmitted (restored from the journal).",
)
SNAPSHOT_ROUND_SECONDS = Histogram(
    "threadweaver_worker_snapshot_round_seconds",
    "Time to encode and commit one snapshot round.",
    buckets=(1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
)
RESTORED_THREADS = Counter(
    "threadweaver_worker_restored_threads_total",
    "Thread states restored from snapshots when a partition was claimed.",
    ["partition"],
)
