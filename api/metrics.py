"""Prometheus metrics of the API and the middleware that records every request.

Requests are labelled by route TEMPLATE (`/v1/threads/{thread_id}`), never by raw path, so
the number of series stays bounded whatever ids callers send.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.spec import ROUTE_SCOPE_KEY

UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "threadweaver_api_requests_total",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "threadweaver_api_request_duration_seconds",
    "Time from request to the end of the response, by route template and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
COMMANDS = Counter(
    "threadweaver_api_commands_total",
    "Commands sent through the API, by command, outcome and rejection reason.",
    ["command", "outcome", "reason"],
)
MIN_VERSION_WAITS = Counter(
    "threadweaver_api_min_version_waits_total",
    "Queries whose min_version was ahead of the read model, by outcome (reached, stale).",
    ["outcome"],
)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = str(scope.get(ROUTE_SCOPE_KEY, UNMATCHED))
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            REQUESTS.labels(route, method, str(status)).inc()
            LATENCY.labels(route, method).observe(time.perf_counter() - started)


def exposition() -> tuple[bytes, str]:
    """The metrics text; with several uvicorn workers (PROMETHEUS_MULTIPROC_DIR set), the sum
    over all of them, whichever worker answers the scrape."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
