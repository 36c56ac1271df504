"""THREADWEAVER_API_*: where `threadweaver api` listens, how it waits, and who may call it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from pipeline.settings.base import (
    PREFIX,
    AtLeastOne,
    NonNegative,
    Port,
    PositiveSeconds,
    RuleError,
    Seconds,
    Section,
    choice,
)

API_PREFIX = PREFIX + "API_"
AUTH_MODE_ENV = API_PREFIX + "AUTH_MODE"
# AuthSettings' variables but `mode`: this prefix and the field's name.
JWT_PREFIX = API_PREFIX + "JWT_"
JWT_ALGORITHM_ENV = JWT_PREFIX + "ALGORITHM"
JWT_KEY_ENV = JWT_PREFIX + "KEY"
JWT_KEY_FILE_ENV = JWT_PREFIX + "KEY_FILE"
JWT_ISSUER_ENV = JWT_PREFIX + "ISSUER"
JWT_AUDIENCE_ENV = JWT_PREFIX + "AUDIENCE"
JWT_LEEWAY_ENV = JWT_PREFIX + "LEEWAY_S"
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


class AuthMode(StrEnum):
    JWT = "jwt"
    # Development only: callers name their account themselves (`make run --no-auth`).
    DISABLED = "disabled"


class JwtAlgorithm(StrEnum):
    """The one algorithm a deployment accepts; tokens never choose (no `none`, no mixing)."""

    HS256 = "HS256"
    RS256 = "RS256"


class AuthSettings(Section):
    """How the API learns who calls: a bearer JWT verified with one key (ADR 0008).

    `key` is missing until configured; the app refuses to start in jwt mode without it
    (`api.auth.Authenticator`), so that reading the names (tests/deploy) never fails.
    """

    model_config = SettingsConfigDict(env_prefix=JWT_PREFIX)
    secret_files = {"key": "key_file"}

    mode: Annotated[AuthMode, choice(AuthMode, listed=False)] = Field(
        default=AuthMode.JWT,
        validation_alias=AUTH_MODE_ENV,
        description="`jwt`: every `/v1` request needs a valid bearer token; `disabled`: callers "
        "name any account (development only; a loud warning at every start)",
    )
    algorithm: Annotated[JwtAlgorithm, choice(JwtAlgorithm, listed=False)] = Field(
        default=JwtAlgorithm.HS256,
        description="`HS256` (shared secret) or `RS256` (the issuer's public key); the only "
        "algorithm accepted (ADR 0008)",
    )
    # Declared before `key`, whose validator reads it.
    key_file: Path | None = Field(
        default=None, description="a file holding the key (a mounted Secret), read at start"
    )
    # The HS256 shared secret, or the RS256 public key (PEM) of the token issuer.
    key: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="the HS256 secret (>= 32 bytes) or the RS256 public key (PEM, >= 2048 bits); "
        "required in `jwt` mode: the API does not start without it",
    )
    # Checked when set: a token of another issuer or audience is refused.
    issuer: str | None = Field(default=None, description="`iss` a token must carry, when set")
    audience: str | None = Field(default=None, description="`aud` a token must carry, when set")
    leeway_s: float = Field(
        default=30.0,
        ge=0,
        le=JWT_LEEWAY_MAX_S,
        description="clock skew allowed between the token issuer and the API",
    )

    @field_validator("key", mode="after")
    @classmethod
    def _key_or_its_file(cls, key: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        path = info.data.get("key_file")
        if path is None:
            return SecretStr(key.get_secret_value().strip()) if key is not None else None
        if key is not None:
            raise RuleError(f"set only one of {JWT_KEY_ENV} and {JWT_KEY_FILE_ENV}")
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleError(f"{JWT_KEY_FILE_ENV}: cannot read {path}: {exc}") from None
        if not text:
            raise RuleError(f"{JWT_KEY_FILE_ENV}: {path} is empty")
        return SecretStr(text)

    @property
    def key_env(self) -> str:
        """The variable the key came from (for error messages)."""
        return JWT_KEY_FILE_ENV if self.key_file is not None else JWT_KEY_ENV


class ApiSettings(Section):
    model_config = SettingsConfigDict(env_prefix=API_PREFIX)

    # Loopback by default: exposing the API is a deployment decision (compose/k8s set 0.0.0.0).
    host: str = Field(default="127.0.0.1", description="where `threadweaver api` listens")
    port: Port = Field(default=8000, description="the port it listens on")
    workers: AtLeastOne = Field(default=1, description="uvicorn worker processes")
    min_version_wait_s: Seconds = Field(
        default=2.0,
        description="how long a query with `min_version` waits for the projection before 409",
    )
    reply_timeout_s: PositiveSeconds = Field(
        default=10.0, description="how long a command endpoint waits for the reply before 504"
    )
    # 1 MiB: a command record must fit a Kafka record (librdkafka's message.max.bytes is
    # ~1 MB), so a bigger body could not be produced anyway.
    body_limit_bytes: AtLeastOne = Field(
        default=1_048_576, description="request body limit (413 above)"
    )
    pool_min_size: NonNegative = Field(
        default=1, description="PostgreSQL pool of each API process: least"
    )
    pool_max_size: AtLeastOne = Field(
        default=10, description="PostgreSQL pool of each API process: most"
    )
    query_timeout_s: PositiveSeconds = Field(
        default=5.0, description="upper bound of one read-model statement (503 above)"
    )
    reply_partition: int | None = Field(
        default=None,
        ge=0,
        description="the replies partition this process listens to (ADR 0003; unset: random at "
        "start; < THREADWEAVER_PARTITIONS)",
    )
    access_log: bool = Field(default=False, description="log every request")
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @model_validator(mode="after")
    def _pool_bounds(self) -> ApiSettings:
        if self.pool_max_size < self.pool_min_size:
            raise RuleError(
                f"{API_PREFIX}POOL_MAX_SIZE ({self.pool_max_size}) must be >= "
                f"{API_PREFIX}POOL_MIN_SIZE ({self.pool_min_size})"
            )
        return self
