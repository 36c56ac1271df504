"""Prometheus metrics of the projector (served on THREADWEAVER_PROJECTOR_METRICS_PORT)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from pipeline.kafka.batch_loop import BATCH_SECONDS_BUCKETS
from pipeline.projector.plan import Outcome, ParkReason

# Outcomes of records that never reach the planner.
UNDECODABLE = "undecodable"
INVALID = "invalid"

EVENTS = Counter(
    "threadweaver_projector_events_total",
    "Journal records handled, by outcome: applied, duplicate (skipped re-append), conflict "
    "(dead-lettered), gap / failed (parked their thread), parked (skipped: thread parked), "
    "undecodable, invalid.",
    ["outcome"],
)
PARKED_THREADS = Counter(
    "threadweaver_projector_parked_threads_total",
    "Threads parked by this process, by reason (gap, no_thread_created, apply_failed). Any "
    "increase is an alarm: the read model of the thread is frozen until a rebuild.",
    ["reason"],
)
DEAD_LETTERS = Counter(
    "threadweaver_projector_dead_letters_total",
    "Journal records sent to the conflicts topic, by reason.",
    ["reason"],
)
RECONNECTS = Counter(
    "threadweaver_projector_reconnects_total",
    "Times the projector lost PostgreSQL (or could not reach it) and started over after a "
    "backoff; its uncommitted batch is read again.",
)
COMMIT_FAILURES = Counter(
    "threadweaver_projector_offset_commit_failures_total",
    "Offset commits the broker refused after a batch was written (the batch is read again "
    "and skipped as re-appends by whoever owns the partition next).",
)
ISOLATED_BATCHES = Counter(
    "threadweaver_projector_isolated_batches_total",
    "Batches the database refused as a whole and that were re-run thread by thread.",
)
BATCH_SECONDS = Histogram(
    "threadweaver_projector_batch_seconds",
    "Time to project one batch: decode, transaction committed, dead letters acknowledged.",
    buckets=BATCH_SECONDS_BUCKETS,
)
BATCH_RECORDS = Histogram(
    "threadweaver_projector_batch_records",
    "Journal records per batch.",
    buckets=(1, 10, 100, 300, 1000, 3000, 10000),
)
CONSUMER_LAG = Gauge(
    "threadweaver_projector_consumer_lag",
    "Journal records not yet projected in a partition (high watermark - next offset).",
    ["partition"],
)

# Every series exists from the start, so rates and alerts see zeros rather than nothing.
for _outcome in (*(o.value for o in Outcome), UNDECODABLE, INVALID):
    EVENTS.labels(_outcome)
for _reason in ParkReason:
    PARKED_THREADS.labels(_reason.value)
