"""One logging setup for every component: JSON lines (containers, log shippers) or a readable
console format (`make run`), with the ids that let one `grep` follow a command across
components.

Every component, Faust's worker and uvicorn included, is configured from `dict_config`
(Faust's and uvicorn's own setups take a dictConfig), so their records share one format.
Correlation fields come two ways: `extra={...}` on a log call, or `log_context(...)` around a
block (a context variable, so concurrent tasks keep their own).
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.config
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The ids worth a grep, in the order the console format shows them.
CORRELATION_FIELDS = ("command_id", "thread_id", "event_id", "seq_nr", "partition", "offset")

_CONTEXT: ContextVar[Mapping[str, object] | None] = ContextVar(
    "threadweaver_log_context", default=None
)
# What every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Attach `fields` to every record logged inside the block (in this task/thread)."""
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    fields: dict[str, object] = dict(_CONTEXT.get() or {})
    for name, value in record.__dict__.items():
        if name not in _STANDARD and not name.startswith("_"):
            fields[name] = value
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the record's
    fields, and the exception's traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """`time level logger message key=value ...`, for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if not fields:
            return text
        ordered = [k for k in CORRELATION_FIELDS if k in fields]
        ordered += sorted(k for k in fields if k not in CORRELATION_FIELDS)
        pairs = " ".join(f"{k}={fields[k]}" for k in ordered)
        head, sep, tail = text.partition("\n")  # a traceback stays below the line
        return f"{head} {pairs}{sep}{tail}"


def dict_config(level: str = "INFO", log_format: str = "json") -> dict[str, Any]:
    """The logging configuration of every component (logging.config.dictConfig's schema);
    `log_format`: "json" or "console" (THREADWEAVER_LOG_FORMAT)."""
    formatter = JsonFormatter if log_format == "json" else ConsoleFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"threadweaver": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "threadweaver",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # Their DEBUG is every request and every fetch: never wanted with ours.
            "botocore": {"level": "INFO"},
            "urllib3": {"level": "INFO"},
            "aiokafka": {"level": "INFO"},
            # uvicorn's loggers add their own handlers unless told to propagate to ours.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
        },
    }


def configure(level: str = "INFO", log_format: str = "json") -> None:
    logging.config.dictConfig(dict_config(level, log_format))
