"""Projector settings (THREADWEAVER_PROJECTOR_*), read in `main()` only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.settings import PREFIX, Settings

DEFAULT_GROUP_ID = "threadweaver-projector"


@dataclass(frozen=True, slots=True)
class ProjectorSettings:
    base: Settings
    # One consumer group per read model: a second database (a test, a blue/green rebuild)
    # needs its own group, or the two would share committed offsets.
    group_id: str
    metrics_port: int
    batch_max: int
    session_timeout_s: float
    heartbeat_interval_s: float
    # How often a running projector logs what it did (0 = never).
    log_interval_s: float

    @property
    def pg_dsn(self) -> str:
        if not self.base.pg_dsn:
            raise ValueError(f"the projector needs {PREFIX}PG_DSN (a PostgreSQL DSN)")
        return self.base.pg_dsn

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, base: Settings | None = None
    ) -> ProjectorSettings:
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(f"{PREFIX}PROJECTOR_{name}", default) or default

        batch_max = int(get("BATCH_MAX", "2000"))
        if batch_max < 1:
            raise ValueError(f"{PREFIX}PROJECTOR_BATCH_MAX must be >= 1, got {batch_max}")
        return cls(
            base=base if base is not None else Settings.from_env(env),
            group_id=get("GROUP_ID", DEFAULT_GROUP_ID),
            metrics_port=int(get("METRICS_PORT", "9466")),
            batch_max=batch_max,
            session_timeout_s=float(env.get(f"{PREFIX}KAFKA_SESSION_TIMEOUT_S", "10")),
            heartbeat_interval_s=float(env.get(f"{PREFIX}KAFKA_HEARTBEAT_INTERVAL_S", "1")),
            log_interval_s=float(get("LOG_INTERVAL_S", "10")),
        )
