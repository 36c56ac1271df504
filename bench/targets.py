"""The goals of issue 7, in one place (the table shows each next to its figure)."""

from __future__ import annotations

from bench.report import Target

ACCEPTED_2_WORKERS = Target("≥ 10,000 accepted commands/s with 2 workers", ">=", 10_000)
SHARE_OF_RAW = Target("command side ≥ 25 % of the raw broker rate", ">=", 25.0)
REPLY_P99 = Target("p99 command→reply < 25 ms at 1,000 cmd/s", "<", 25.0)
VISIBLE_P99 = Target("p99 command→visible < 250 ms at 1,000 cmd/s", "<", 250.0)
PROJECTOR = Target("projector ≥ 20,000 events/s", ">=", 20_000)
API_RATE = Target("API ≥ 3,000 GET/s", ">=", 3_000)
API_P99 = Target("API p99 < 20 ms", "<", 20.0)
RECOVERY_FRESH = Target("fresh worker recovers in < 10 s (issue 15)", "<", 10.0)
RECOVERY_FLAT = Target("5M-event recovery within 1.5x the 1M one (issue 15)", "<", 1.5)
HANDOFF_P99 = Target("worst hand-off p99 command→reply < 1,000 ms (issue 15)", "<", 1_000.0)
