"""Worker-specific settings (THREADWEAVER_WORKER_*), read in `main()` only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.settings import PREFIX, Settings

RUNTIMES = ("faust", "confluent")


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """`standby_replicas` > 0: each worker keeps warm copies of the partitions it does not
    own (so a cluster of N workers has N - 1 standbys of each partition)."""

    base: Settings
    data_dir: Path
    metrics_port: int
    batch_max: int
    batch_within_s: float
    session_timeout_s: float
    heartbeat_interval_s: float
    group_instance_id: str | None
    runtime: str
    group_id: str
    standby_replicas: int
    standby_interval_s: float

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ValueError(
                f"{PREFIX}WORKER_RUNTIME must be one of {RUNTIMES}, got {self.runtime!r}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(f"{PREFIX}WORKER_{name}", default)

        return cls(
            base=Settings.from_env(env),
            data_dir=Path(get("DATA_DIR", ".data/worker")),
            metrics_port=int(get("METRICS_PORT", "9464")),
            batch_max=int(get("BATCH_MAX", "1000")),
            batch_within_s=float(get("BATCH_WITHIN_S", "0.005")),
            session_timeout_s=float(env.get(f"{PREFIX}KAFKA_SESSION_TIMEOUT_S", "10")),
            heartbeat_interval_s=float(env.get(f"{PREFIX}KAFKA_HEARTBEAT_INTERVAL_S", "1")),
            group_instance_id=get("GROUP_INSTANCE_ID", "") or None,
            runtime=get("RUNTIME", "faust"),
            # One group per system, whichever runtime its workers run.
            group_id=get("GROUP_ID", "threadweaver-worker"),
            standby_replicas=int(get("STANDBY_REPLICAS", "0")),
            standby_interval_s=float(get("STANDBY_INTERVAL_S", "5")),
        )
