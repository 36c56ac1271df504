"""`threadweaver worker`: run the aggregate worker until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
from typing import NoReturn

from faust import Worker
from prometheus_client import start_http_server

from pipeline.worker.app import build_app
from pipeline.worker.config import WorkerSettings


def main() -> NoReturn:
    settings = WorkerSettings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="0.0.0.0")  # noqa: S104 - scraped in-cluster
    app = build_app(settings)
    worker = Worker(app, loglevel="INFO", quiet=True)
    worker.execute_from_commandline()
