"""API settings: THREADWEAVER_API_* on top of the shared `Settings`, read once at start.

Nothing here connects anywhere; `create_app()` opens the pool and the command client in its
lifespan, so importing the app (uvicorn's factory, tests) is free of side effects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from pipeline.settings import PREFIX, Settings

API_PREFIX = PREFIX + "API_"
AUTH_MODE_ENV = API_PREFIX + "AUTH_MODE"
JWT_ALGORITHM_ENV = API_PREFIX + "JWT_ALGORITHM"
JWT_KEY_ENV = API_PREFIX + "JWT_KEY"
JWT_KEY_FILE_ENV = API_PREFIX + "JWT_KEY_FILE"
JWT_ISSUER_ENV = API_PREFIX + "JWT_ISSUER"
JWT_AUDIENCE_ENV = API_PREFIX + "JWT_AUDIENCE"
JWT_LEEWAY_ENV = API_PREFIX + "JWT_LEEWAY_S"
AUTH_ENV_NAMES = (
    AUTH_MODE_ENV,
    JWT_ALGORITHM_ENV,
    JWT_KEY_ENV,
    JWT_KEY_FILE_ENV,
    JWT_ISSUER_ENV,
    JWT_AUDIENCE_ENV,
    JWT_LEEWAY_ENV,
)
# Clock skew between the token issuer and the API; minutes would stretch every token's life.
JWT_LEEWAY_MAX_S = 300.0

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


class AuthMode(StrEnum):
    JWT = "jwt"
    # Development only: callers name their account themselves (`make run --no-auth`).
    DISABLED = "disabled"


class JwtAlgorithm(StrEnum):
    """The one algorithm a deployment accepts; tokens never choose (no `none`, no mixing)."""

    HS256 = "HS256"
    RS256 = "RS256"


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that must not reach logs: every repr and str of it is redacted."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('<redacted>')"

    __str__ = __repr__


def _choice(env: Mapping[str, str], name: str, kind: type[AuthMode] | type[JwtAlgorithm]) -> str:
    raw = (env.get(name) or "").strip()
    if not raw:
        return ""
    for member in kind:
        if raw.lower() == member.value.lower():
            return member.value
    allowed = " or ".join(member.value for member in kind)
    raise ValueError(f"{name} must be {allowed}, got {raw!r}")


def _key(env: Mapping[str, str]) -> tuple[Secret | None, str | None]:
    """The key and, when it came from a file (a mounted Secret), that file's path."""
    literal = env.get(JWT_KEY_ENV) or None
    path = (env.get(JWT_KEY_FILE_ENV) or "").strip() or None
    if literal is not None and path is not None:
        raise ValueError(f"set only one of {JWT_KEY_ENV} and {JWT_KEY_FILE_ENV}")
    if path is None:
        return (Secret(literal.strip()) if literal is not None else None), None
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{JWT_KEY_FILE_ENV}: cannot read {path}: {exc}") from exc
    if not text:
        raise ValueError(f"{JWT_KEY_FILE_ENV}: {path} is empty")
    return Secret(text), path


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """How the API learns who calls: a bearer JWT verified with one key (ADR 0008).

    `key` is missing until configured; the app refuses to start in jwt mode without it
    (`api.auth.Authenticator`), so that reading the names (tests/deploy) never fails.
    """

    mode: AuthMode = AuthMode.JWT
    algorithm: JwtAlgorithm = JwtAlgorithm.HS256
    # The HS256 shared secret, or the RS256 public key (PEM) of the token issuer.
    key: Secret | None = None
    key_file: str | None = None
    # Checked when set: a token of another issuer or audience is refused.
    issuer: str | None = None
    audience: str | None = None
    leeway_s: float = 30.0

    @property
    def key_env(self) -> str:
        """The variable the key came from (for error messages)."""
        return JWT_KEY_FILE_ENV if self.key_file is not None else JWT_KEY_ENV

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthSettings:
        d = cls()
        key, key_file = _key(env)
        leeway = _number(env, "JWT_LEEWAY_S", d.leeway_s, float, 0.0)
        if leeway > JWT_LEEWAY_MAX_S:
            raise ValueError(f"{JWT_LEEWAY_ENV} must be <= {JWT_LEEWAY_MAX_S:g}, got {leeway:g}")
        return cls(
            mode=AuthMode(_choice(env, AUTH_MODE_ENV, AuthMode) or d.mode),
            algorithm=JwtAlgorithm(_choice(env, JWT_ALGORITHM_ENV, JwtAlgorithm) or d.algorithm),
            key=key,
            key_file=key_file,
            issuer=(env.get(JWT_ISSUER_ENV) or "").strip() or None,
            audience=(env.get(JWT_AUDIENCE_ENV) or "").strip() or None,
            leeway_s=leeway,
        )

    def to_env(self) -> dict[str, str]:
        env = {
            AUTH_MODE_ENV: self.mode.value,
            JWT_ALGORITHM_ENV: self.algorithm.value,
            JWT_LEEWAY_ENV: str(self.leeway_s),
        }
        # A key read from a file is passed on as the file, not copied into the environment.
        if self.key_file is not None:
            env[JWT_KEY_FILE_ENV] = self.key_file
        elif self.key is not None:
            env[JWT_KEY_ENV] = self.key.value
        if self.issuer is not None:
            env[JWT_ISSUER_ENV] = self.issuer
        if self.audience is not None:
            env[JWT_AUDIENCE_ENV] = self.audience
        return env


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
    auth: AuthSettings = field(default_factory=AuthSettings)

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
            auth=AuthSettings.from_env(env),
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
            **self.auth.to_env(),
        }
        if self.reply_partition is not None:
            env[API_PREFIX + "REPLY_PARTITION"] = str(self.reply_partition)
        return env
