"""API settings: THREADWEAVER_API_* on top of the shared `Settings`, read once at start.

Nothing here connects anywhere; `create_app()` opens the pool and the command client in its
lifespan, so importing the app (uvicorn's factory, tests) is free of side effects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pipeline.settings import PREFIX, Settings

API_PREFIX = PREFIX + "API_"

T = TypeVar("T", int, float)


def _number(
    env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T], minimum: T
) -> T:
    raw = env.get(API_PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse(raw)
    except ValueError as exc:
        raise ValueError(f"{API_PREFIX}{name} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise ValueError(f"{API_PREFIX}{name} must be >= {minimum}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class ApiSettings:
    base: Settings = field(default_factory=Settings)
    # Loopback by default: exposing the API is a deployment decision (compose/k8s set 0.0.0.0).
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # How long a query with `min_version` waits for the projection before answering 409.
    min_version_wait_s: float = 2.0
    # How long a command endpoint waits for the worker's reply before answering 504.
    reply_timeout_s: float = 10.0
    # 1 MiB: a command record must fit a Kafka record (librdkafka's message.max.bytes is
    # ~1 MB), so a bigger body could not be produced anyway.
    body_limit_bytes: int = 1_048_576
    pool_min_size: int = 1
    pool_max_size: int = 10
    # Upper bound of one read-model statement; a slower one answers 503.
    query_timeout_s: float = 5.0
    # The replies partition this process listens to (ADR 0003); None = random at start.
    reply_partition: int | None = None
    access_log: bool = False

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, base: Settings | None = None
    ) -> ApiSettings:
        env = os.environ if environ is None else environ
        d = cls()
        pool_min = _number(env, "POOL_MIN_SIZE", d.pool_min_size, int, 0)
        pool_max = _number(env, "POOL_MAX_SIZE", d.pool_max_size, int, 1)
        if pool_max < pool_min:
            raise ValueError(
                f"{API_PREFIX}POOL_MAX_SIZE ({pool_max}) must be >= "
                f"{API_PREFIX}POOL_MIN_SIZE ({pool_min})"
            )
        shared = base if base is not None else Settings.from_env(env)
        reply_partition: int | None = None
        if env.get(API_PREFIX + "REPLY_PARTITION", "").strip():
            reply_partition = _number(env, "REPLY_PARTITION", 0, int, 0)
            if reply_partition >= shared.partitions:
                raise ValueError(
                    f"{API_PREFIX}REPLY_PARTITION must be < {PREFIX}PARTITIONS "
                    f"({shared.partitions}), got {reply_partition}"
                )
        return cls(
            base=shared,
            host=env.get(API_PREFIX + "HOST", d.host) or d.host,
            port=_number(env, "PORT", d.port, int, 0),
            workers=_number(env, "WORKERS", d.workers, int, 1),
            min_version_wait_s=_number(env, "MIN_VERSION_WAIT_S", d.min_version_wait_s, float, 0.0),
            reply_timeout_s=_number(env, "REPLY_TIMEOUT_S", d.reply_timeout_s, float, 0.001),
            body_limit_bytes=_number(env, "BODY_LIMIT_BYTES", d.body_limit_bytes, int, 1),
            pool_min_size=pool_min,
            pool_max_size=pool_max,
            query_timeout_s=_number(env, "QUERY_TIMEOUT_S", d.query_timeout_s, float, 0.001),
            reply_partition=reply_partition,
            access_log=env.get(API_PREFIX + "ACCESS_LOG", "").lower() in {"1", "true", "yes", "on"},
        )

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings (uvicorn workers re-read it)."""
        env = {
            **self.base.to_env(),
            API_PREFIX + "HOST": self.host,
            API_PREFIX + "PORT": str(self.port),
            API_PREFIX + "WORKERS": str(self.workers),
            API_PREFIX + "MIN_VERSION_WAIT_S": str(self.min_version_wait_s),
            API_PREFIX + "REPLY_TIMEOUT_S": str(self.reply_timeout_s),
            API_PREFIX + "BODY_LIMIT_BYTES": str(self.body_limit_bytes),
            API_PREFIX + "POOL_MIN_SIZE": str(self.pool_min_size),
            API_PREFIX + "POOL_MAX_SIZE": str(self.pool_max_size),
            API_PREFIX + "QUERY_TIMEOUT_S": str(self.query_timeout_s),
            API_PREFIX + "ACCESS_LOG": "1" if self.access_log else "0",
        }
        if self.reply_partition is not None:
            env[API_PREFIX + "REPLY_PARTITION"] = str(self.reply_partition)
        return env
