"""What the phases share: the configuration, the running system, the report, and figures one
phase measures for another (the raw broker rate is the command side's limit, the capacity
sets the highest offered load of the latency runs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.config import BenchConfig
from bench.report import Report
from bench.system import System


@dataclass
class Context:
    config: BenchConfig
    system: System
    report: Report
    # Encoded sizes of a typical command and event of the mix (bytes).
    command_bytes: int = 0
    event_bytes: int = 0
    # Raw produce+consume records/s of the broker for event-sized records.
    raw_event_rate: float | None = None
    # Commands handled/s by 2 workers, per runtime.
    capacity_2_workers: dict[str, float] = field(default_factory=dict)
    seeds: int = 100

    def next_seed(self) -> int:
        self.seeds += 1
        return self.seeds
