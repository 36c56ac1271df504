"""Mirror-specific settings (THREADWEAVER_MIRROR_*), read in `main()` only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from pipeline.settings import PREFIX, Settings

MIRROR = f"{PREFIX}MIRROR_"
# The mirror's consumer group (named in its KafkaUser ACLs).
GROUP_ID = "threadweaver-mirror"


class WriteMethod(Enum):
    """How new items reach DynamoDB (measured in docs/adr/0005-journal-mirror.md)."""

    # BatchGetItem (consistent) for what is stored, then BatchWriteItem for what is new.
    BATCH = "batch"
    # One PutItem per item, conditional on the key being absent.
    CONDITIONAL = "conditional"


@dataclass(frozen=True, slots=True)
class MirrorSettings:
    base: Settings
    metrics_port: int
    batch_max: int
    concurrency: int
    write_method: WriteMethod
    max_attempts: int
    backoff_base_s: float
    backoff_cap_s: float
    retry_deadline_s: float
    request_timeout_s: float
    session_timeout_s: float
    heartbeat_interval_s: float
    group_instance_id: str | None
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MirrorSettings:
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(MIRROR + name, default)

        def number(name: str, default: str, kind: type[int] | type[float]) -> float:
            raw = get(name, default)
            try:
                value = kind(raw)
            except ValueError as exc:
                raise ValueError(f"{MIRROR}{name} must be a number, got {raw!r}") from exc
            if value < 0:
                raise ValueError(f"{MIRROR}{name} must be >= 0, got {raw!r}")
            return value

        method_raw = get("WRITE_METHOD", WriteMethod.BATCH.value)
        try:
            method = WriteMethod(method_raw)
        except ValueError as exc:
            choices = ", ".join(m.value for m in WriteMethod)
            raise ValueError(f"{MIRROR}WRITE_METHOD must be one of {choices}") from exc
        return cls(
            base=Settings.from_env(env),
            metrics_port=int(number("METRICS_PORT", "9465", int)),
            batch_max=max(1, int(number("BATCH_MAX", "2000", int))),
            concurrency=max(1, int(number("CONCURRENCY", "4", int))),
            write_method=method,
            max_attempts=max(1, int(number("MAX_ATTEMPTS", "5", int))),
            backoff_base_s=number("BACKOFF_BASE_S", "0.05", float),
            backoff_cap_s=number("BACKOFF_CAP_S", "5", float),
            retry_deadline_s=number("RETRY_DEADLINE_S", "300", float),
            request_timeout_s=number("REQUEST_TIMEOUT_S", "10", float),
            session_timeout_s=float(env.get(f"{PREFIX}KAFKA_SESSION_TIMEOUT_S", "10")),
            heartbeat_interval_s=float(env.get(f"{PREFIX}KAFKA_HEARTBEAT_INTERVAL_S", "1")),
            group_instance_id=get("GROUP_INSTANCE_ID", "") or None,
            log_level=get("LOG_LEVEL", "INFO").upper(),
        )
