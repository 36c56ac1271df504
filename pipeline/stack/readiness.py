"""Waiting until a freshly started server answers, with errors that say where to look."""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline.stack.errors import StackError
from pipeline.stack.process import ProcessRecord, exit_code, is_alive, tail


def wait_until_answers(
    what: str,
    probe: Callable[[], object],
    *,
    timeout: float,
    record: ProcessRecord | None = None,
    log_path: str | None = None,
    interval: float = 0.1,
) -> None:
    """Call `probe` until it returns without raising.

    `what` names the server and the request, e.g. "Kafka (metadata request on 127.0.0.1:9092)".
    A server that exits while we wait fails at once instead of after the whole timeout.
    """
    log_path = log_path or (record.log_path if record is not None else None)
    where = f"; its log is {log_path}" if log_path else ""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        if record is not None and not is_alive(record):
            code = exit_code(record)
            status = f"exited with code {code}" if code is not None else "is no longer running"
            raise StackError(
                f"{what}: the server {status} while starting{where}. Last lines:\n"
                + (tail(log_path) if log_path else "")
            )
        try:
            probe()
        except Exception as exc:  # any failure just means "not yet"
            last_error = exc
        else:
            return
        if time.monotonic() >= deadline:
            raise StackError(
                f"{what}: no answer within {timeout:.0f} s (last error: {last_error!r}){where}."
                + (f" Last lines:\n{tail(log_path)}" if log_path else "")
            )
        time.sleep(interval)
