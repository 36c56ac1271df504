"""What one bench run does, from THREADWEAVER_BENCH_* (read once, in `__main__`).

THREADWEAVER_BENCH_SCALE multiplies every duration and message count (0.1: a smoke run of a
few minutes that still runs every phase); each has a floor so a tiny scale stays meaningful.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BENCH = "THREADWEAVER_BENCH_"
ROOT = Path(__file__).resolve().parents[1]
PHASES = ("raw", "command", "projector", "mirror", "e2e", "api", "recovery")
# The recovery phase's two parts: fresh workers from snapshots, and hand-offs under load.
RECOVERY_PARTS = ("fresh", "handoff")
RUNTIMES = ("faust", "confluent")


@dataclass(frozen=True, slots=True)
class BenchConfig:
    scale: float
    phases: tuple[str, ...]
    runtimes: tuple[str, ...]
    # A recovery of 1M events takes minutes per runtime: by default only the deployed one.
    recovery_runtimes: tuple[str, ...]
    recovery_parts: tuple[str, ...]
    partitions: int
    results_dir: Path
    keep_data: bool
    profile: bool
    # Commands/s the first capacity run sizes its backlog for (later runs use what they saw).
    rate_guess: float
    api_workers: int
    e2e_workers: int
    e2e_sample_every: int
    threads: int = 1_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BenchConfig:
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(BENCH + name, "").strip() or default

        def listed(
            name: str, choices: tuple[str, ...], default: tuple[str, ...] | None = None
        ) -> tuple[str, ...]:
            wanted = ",".join(choices if default is None else default)
            raw = [p.strip() for p in get(name, wanted).split(",") if p.strip()]
            unknown = sorted(set(raw) - set(choices))
            if unknown:
                raise ValueError(f"{BENCH}{name}: unknown {unknown}; choose from {choices}")
            return tuple(p for p in choices if p in raw)

        scale = float(get("SCALE", "1"))
        if scale <= 0:
            raise ValueError(f"{BENCH}SCALE must be > 0, got {scale}")
        return cls(
            scale=scale,
            phases=listed("PHASES", PHASES),
            runtimes=listed("RUNTIMES", RUNTIMES),
            recovery_runtimes=listed("RECOVERY_RUNTIMES", RUNTIMES, ("faust",)),
            recovery_parts=listed("RECOVERY_PARTS", RECOVERY_PARTS),
            partitions=int(get("PARTITIONS", "4")),
            results_dir=Path(get("RESULTS_DIR", str(ROOT / "bench" / "results"))),
            keep_data=get("KEEP_DATA", "0") in {"1", "true", "yes"},
            profile=get("PROFILE", "0") in {"1", "true", "yes"},
            rate_guess=float(get("RATE_GUESS", "4000")),
            api_workers=int(get("API_WORKERS", "1")),
            e2e_workers=int(get("E2E_WORKERS", "2")),
            e2e_sample_every=int(get("E2E_SAMPLE_EVERY", "40")),
        )

    def seconds(self, full: float, floor: float) -> float:
        return max(floor, full * self.scale)

    def count(self, full: int, floor: int) -> int:
        return max(floor, int(full * self.scale))

    # The sizes of each phase at scale 1 (the numbers), floored for smoke runs.
    @property
    def raw_messages(self) -> int:
        # 200k records pass in about a second: too short to be steady.
        return self.count(1_000_000, 50_000)

    @property
    def capacity_seconds(self) -> float:
        return self.seconds(60, 5)

    @property
    def warmup_seconds(self) -> float:
        return self.seconds(5, 2)

    @property
    def latency_seconds(self) -> float:
        return self.seconds(20, 5)

    @property
    def e2e_seconds(self) -> float:
        return self.seconds(30, 5)

    @property
    def api_seconds(self) -> float:
        return self.seconds(20, 3)

    @property
    def mirror_seconds(self) -> float:
        return self.seconds(60, 5)

    @property
    def projector_events(self) -> int:
        return self.count(200_000, 5_000)

    @property
    def recovery_events(self) -> int:
        return self.count(1_000_000, 10_000)

    @property
    def recovery_sizes(self) -> tuple[int, int]:
        """The two journal lengths recovery from snapshots is timed at (issue 15)."""
        return self.recovery_events, self.count(5_000_000, 50_000)

    @property
    def handoff_seconds(self) -> float:
        return self.seconds(75, 30)

    def as_dict(self) -> dict[str, object]:
        return {
            "scale": self.scale,
            "phases": list(self.phases),
            "runtimes": list(self.runtimes),
            "recovery_runtimes": list(self.recovery_runtimes),
            "recovery_parts": list(self.recovery_parts),
            "partitions": self.partitions,
            "threads": self.threads,
            "profile": self.profile,
            "rate_guess": self.rate_guess,
            "api_workers": self.api_workers,
            "e2e_workers": self.e2e_workers,
            "e2e_sample_every": self.e2e_sample_every,
            "raw_messages": self.raw_messages,
            "capacity_seconds": self.capacity_seconds,
            "warmup_seconds": self.warmup_seconds,
            "latency_seconds": self.latency_seconds,
            "e2e_seconds": self.e2e_seconds,
            "api_seconds": self.api_seconds,
            "mirror_seconds": self.mirror_seconds,
            "projector_events": self.projector_events,
            "recovery_events": self.recovery_events,
            "recovery_sizes": list(self.recovery_sizes),
            "handoff_seconds": self.handoff_seconds,
        }
