"""What every settings section shares: where values come from, how a bad one is reported, and
how a section is written back to environment variables.

Sources, highest first: the values a caller passes, the environment (the process's, or the
mapping `from_env` is given), then the `.env` file of the working directory (only when the
process environment is read: a given mapping is the whole truth, so tests and child processes
are not swayed by a developer's `.env`). A blank value counts as unset in every source, so a
ConfigMap or compose file may carry empty entries. Outside `from_env` a section is a plain value:
`WorkerSettings(batch_max=10)` reads nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, TypeGuard, TypeVar

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

PREFIX = "THREADWEAVER_"
# Relative: the working directory's, where `make run` and a developer's shell start.
ENV_FILE = Path(".env")


# The bounds most numbers of the sections share, named once.
AtLeastOne = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]
# A wait that may be zero (none), and an interval or timeout, which may not.
Seconds = Annotated[float, Field(ge=0)]
PositiveSeconds = Annotated[float, Field(gt=0)]
# 0: any free port for a listener, off for a metrics endpoint.
Port = Annotated[int, Field(ge=0, le=65535)]


class SettingsError(ValueError):
    """A configuration that cannot work; the message names each variable and the rule."""


class RuleError(ValueError):
    """A validator's message that names its variables itself (a rule between fields)."""


@dataclass(frozen=True, slots=True)
class Origin:
    environ: Mapping[str, str]
    env_file: Path | None


_origin: ContextVar[Origin | None] = ContextVar("threadweaver_settings_origin", default=None)


@contextmanager
def reading(environ: Mapping[str, str] | None, env_file: Path | None) -> Iterator[Origin]:
    """Sections built inside read `environ` (default: the process's) and `env_file`."""
    origin = Origin(os.environ if environ is None else environ, env_file)
    token = _origin.set(origin)
    try:
        yield origin
    finally:
        _origin.reset(token)


def given(values: Mapping[str, str | None]) -> dict[str, str]:
    """The entries that count: blank ones are unset."""
    return {k: v for k, v in values.items() if v is not None and v.strip() != ""}


def is_section(annotation: Any) -> TypeGuard[type[Section]]:
    return isinstance(annotation, type) and issubclass(annotation, Section)


class _Environment(EnvSettingsSource):
    """The environment source over any mapping, not only os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(given(self._environ), self.case_sensitive)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # A nested section reads its own variables when it is built; no JSON blob for it.
        if is_section(field.annotation):
            return None, field_name, False
        return super().get_field_value(field, field_name)


class _DotEnv(DotEnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        return given(super()._load_env_vars())

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if is_section(field.annotation):
            return None, field_name, False
        return super().get_field_value(field, field_name)


def dotenv_values(path: Path | None) -> dict[str, str]:
    """The non-blank entries of a .env file, names as written; {} when there is none."""
    if path is None or not path.is_file():
        return {}
    return given(DotEnvSettingsSource._static_read_env_file(path, case_sensitive=True))


class Section(BaseSettings):
    """One part of the settings tree, read from the variables `env_prefix` + field name (or a
    field's own `validation_alias`, for the names that predate the tree)."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        frozen=True,
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        dotenv_filtering="only_existing",
        str_strip_whitespace=True,
    )
    # Secret field -> the field naming a file that holds it (a mounted Secret).
    secret_files: ClassVar[Mapping[str, str]] = {}

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(describe(type(self), exc)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        origin = _origin.get()
        if origin is None:
            return (init_settings,)
        sources = [init_settings, _Environment(settings_cls, origin.environ)]
        if origin.env_file is not None:
            sources.append(_DotEnv(settings_cls, env_file=origin.env_file))
        return tuple(sources)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = None
    ) -> Self:
        """This section (and the sections inside it) from `environ`, else from the process
        environment and the working directory's `.env`. Raises SettingsError."""
        if env_file is None and environ is None:
            env_file = ENV_FILE
        with reading(environ, env_file):
            return cls()

    def replaced(self, **changes: Any) -> Self:
        """A copy with `changes`, validated as the original was (`model_copy` does not
        validate). Sections inside are kept as they are, not read again."""
        kept = {
            name: getattr(self, name)
            for name, field in type(self).model_fields.items()
            if name in self.model_fields_set or is_section(field.annotation)
        }
        return type(self)(**{**kept, **changes})

    @classmethod
    def variable(cls, key: str) -> str:
        """The environment variable of a field (by name, or by the alias an error carries)."""
        field = cls.model_fields.get(key)
        if field is None:
            return key
        if isinstance(field.validation_alias, str):
            return field.validation_alias
        return f"{cls.model_config.get('env_prefix', '')}{key}".upper()

    @classmethod
    def secret(cls, name: str) -> bool:
        annotation = cls.model_fields[name].annotation
        return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())

    def to_env(self) -> dict[str, str]:
        """The variables that reproduce this section (and those inside it) in a child process.
        Secrets are written out; a secret read from a file is passed on as the file's name."""
        env: dict[str, str] = {}
        from_files = {s for s, f in self.secret_files.items() if getattr(self, f) is not None}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Section):
                env.update(value.to_env())
            elif value is not None and name not in from_files:
                env[self.variable(name)] = as_text(value)
        return env


def as_text(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _rule(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "must be a number (an integer)"
    if kind in ("float_parsing", "float_type"):
        return "must be a number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false (also 1/0, yes/no, on/off)"
    bounds = {
        "greater_than_equal": (">=", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("<=", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:
        sign, key = bounds[kind]
        return f"must be {sign} {_number(ctx[key])}"
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return str(ctx["error"])
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def _leaf(section: type[Section], loc: tuple[int | str, ...]) -> tuple[type[Section], str] | None:
    """The section and field a nested error location points at."""
    for position, key in enumerate(loc):
        name = str(key)
        field = section.model_fields.get(name) or next(
            (f for f in section.model_fields.values() if f.validation_alias == name), None
        )
        if field is None:
            return None
        inner = field.annotation
        if is_section(inner) and position + 1 < len(loc):
            section = inner
            continue
        fields = section.model_fields
        return section, next((n for n, f in fields.items() if f is field), name)
    return None


def describe(section: type[Section], exc: ValidationError) -> str:
    """One sentence per error, each naming its variable and the rule it broke."""
    sentences = []
    for error in exc.errors(include_url=False):
        leaf = _leaf(section, tuple(error["loc"]))
        rule = _rule(error)
        cause = error.get("ctx", {}).get("error")
        if leaf is None or isinstance(cause, RuleError):
            sentences.append(rule)
            continue
        owner, name = leaf
        sentence = f"{owner.variable(name)} {rule}"
        raw = error.get("input")
        # Never echo a secret, even a malformed one.
        if isinstance(raw, str) and not owner.secret(name) and ", got " not in rule:
            sentence += f", got {raw!r}"
        sentences.append(sentence)
    return "; ".join(sentences)


E = TypeVar("E", bound=Enum)


def choice(kind: type[E], *, listed: bool = True) -> BeforeValidator:
    """An enum member by its value, whatever the case; the message lists the values
    (`listed`: "one of a, b", else "a or b")."""

    def parse(raw: object) -> object:
        if not isinstance(raw, str):
            return raw
        for member in kind:
            if str(member.value).lower() == raw.strip().lower():
                return member
        values = [str(m.value) for m in kind]
        allowed = "one of " + ", ".join(values) if listed else " or ".join(values)
        raise ValueError(f"must be {allowed}, got {raw!r}")

    return BeforeValidator(parse)
