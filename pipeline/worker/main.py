"""`threadweaver worker`: run the aggregate worker until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from types import FrameType
from typing import NoReturn

from faust import Worker
from prometheus_client import start_http_server

from pipeline import logs
from pipeline.kafka.brokers import wait_until_reachable
from pipeline.settings import Settings, WorkerRuntime
from pipeline.worker.app import build_app
from pipeline.worker.runner import serve


def _dump_tasks(_signum: int, _frame: FrameType | None) -> None:
    """SIGUSR1 prints every asyncio task's stack: where a stalled worker is waiting."""
    try:
        tasks = asyncio.all_tasks(asyncio.get_event_loop())
    except RuntimeError:
        return
    for task in tasks:
        task.print_stack(limit=8, file=sys.stderr)


def main() -> NoReturn:
    settings = Settings.from_env()
    logs.configure(settings.log.level, settings.log.format)
    if settings.worker.metrics_port:
        start_http_server(settings.worker.metrics_port, addr="0.0.0.0")
    signal.signal(signal.SIGUSR1, _dump_tasks)
    wait_until_reachable(settings.kafka, logging.getLogger("threadweaver.worker"))
    if settings.worker.runtime is WorkerRuntime.FAUST:
        app = build_app(settings)
        # Faust's worker sets logging up again: with our configuration, so one format.
        Worker(
            app,
            loglevel=settings.log.level.value,
            logging_config=logs.dict_config(settings.log.level, settings.log.format),
            quiet=True,
        ).execute_from_commandline()
    asyncio.run(serve(settings))
    sys.exit(0)
