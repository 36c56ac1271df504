"""The one log format: JSON lines carrying the correlation ids, or a readable console line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from pipeline.logs import ConsoleFormatter, JsonFormatter, dict_config, log_context

pytestmark = pytest.mark.unit


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test.logs.{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_a_json_line_has_the_message_the_extras_and_the_context() -> None:
    logger, stream = capture(JsonFormatter())
    with log_context(partition=3):
        logger.info("command %s", "decided", extra={"command_id": "01CMD", "offset": 41})
    logger.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "command decided"
    assert first["level"] == "info"
    assert first["logger"] == logger.name
    assert (first["command_id"], first["offset"], first["partition"]) == ("01CMD", 41, 3)
    assert first["time"].endswith("+00:00")
    assert "partition" not in second


def test_a_json_line_keeps_the_traceback_and_stays_one_line() -> None:
    logger, stream = capture(JsonFormatter())
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logger.exception("failed")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "failed"
    assert "ValueError: bad\nvalue" in record["exception"]


def test_the_console_line_shows_the_ids_first() -> None:
    logger, stream = capture(ConsoleFormatter())
    logger.warning("x", extra={"zeta": 1, "thread_id": "01THR", "command_id": "01CMD"})
    line = stream.getvalue().strip()
    assert line.endswith(
        "WARNING test.logs."
        + logger.name.rsplit(".", 1)[1]
        + " x command_id=01CMD thread_id=01THR zeta=1"
    )


def test_the_configuration_routes_uvicorn_through_the_root_handler() -> None:
    config = dict_config("DEBUG", "console")
    assert config["root"] == {"level": "DEBUG", "handlers": ["stderr"]}
    assert config["formatters"]["threadweaver"]["()"] is ConsoleFormatter
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name] == {"handlers": [], "propagate": True}
    assert dict_config()["formatters"]["threadweaver"]["()"] is JsonFormatter
