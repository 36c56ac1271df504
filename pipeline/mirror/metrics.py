"""Prometheus metrics of the journal mirror.

Alarm on `threadweaver_mirror_dead_letters_total` (any increase: a journal record is not in
DynamoDB and waits in the conflicts topic) and on a growing `threadweaver_mirror_consumer_lag`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from pipeline.kafka.batch_loop import BATCH_SECONDS_BUCKETS

ITEMS_WRITTEN = Counter(
    "threadweaver_mirror_items_written_total",
    "Events written to DynamoDB as new items.",
)
DUPLICATES = Counter(
    "threadweaver_mirror_duplicates_total",
    "Journal records skipped because an identical event is stored at their key.",
)
CONFLICTS = Counter(
    "threadweaver_mirror_conflicts_total",
    "Journal records whose key holds a different event (never overwritten; dead-lettered).",
)
DEAD_LETTERS = Counter(
    "threadweaver_mirror_dead_letters_total",
    "Journal records sent to the conflicts topic instead of DynamoDB, by reason. Alarm on it.",
    ["reason"],
)
RETRIES = Counter(
    "threadweaver_mirror_retries_total",
    "DynamoDB requests retried, by operation and reason (throttled, transient, item, unprocessed).",
    ["operation", "kind"],
)
THROTTLES = Counter(
    "threadweaver_mirror_throttles_total",
    "DynamoDB requests answered with a throttling error, by operation.",
    ["operation"],
)
UNPROCESSED = Counter(
    "threadweaver_mirror_unprocessed_total",
    "Items or keys a batch request left unprocessed (retried), by operation.",
    ["operation"],
)
COMMIT_FAILURES = Counter(
    "threadweaver_mirror_commit_failures_total",
    "Offset commits that failed (the records are mirrored again; writes are idempotent).",
)
CONSUMER_LAG = Gauge(
    "threadweaver_mirror_consumer_lag",
    "Journal records not yet mirrored in a partition (high watermark - committed offset).",
    ["partition"],
)
BATCH_SECONDS = Histogram(
    "threadweaver_mirror_batch_seconds",
    "Time to mirror one batch of journal records, DynamoDB and dead letters acknowledged.",
    # One more bucket: a batch may retry DynamoDB until its deadline.
    buckets=(*BATCH_SECONDS_BUCKETS, 30.0),
)
