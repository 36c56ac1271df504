"""Operational endpoints: liveness, readiness, metrics, the OpenAPI document, the docs page."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from api import sql
from api.docs import DOCS_HEADERS, DOCS_HTML
from api.errors import HttpReason
from api.metrics import exposition
from api.services import services
from api.spec import Inputs

READY_TIMEOUT_S = 2.0


async def healthz(_request: Request, _inputs: Inputs) -> Response:
    # Liveness only: the event loop answers. Dependencies belong to /readyz, so that an
    # outage of Postgres or Kafka takes pods out of rotation instead of restarting them.
    return JSONResponse({"status": "ok"})


async def _check_postgres(request: Request) -> None:
    s = services(request)
    query = sql.ping()
    async with s.pool.acquire(timeout=READY_TIMEOUT_S) as conn:
        await conn.fetchval(query.sql, *query.args, timeout=READY_TIMEOUT_S)


async def _check_kafka(request: Request) -> None:
    await asyncio.to_thread(services(request).kafka_probe)


async def readyz(request: Request, _inputs: Inputs) -> Response:
    names = ("postgres", "kafka")
    outcomes = await asyncio.gather(
        asyncio.wait_for(_check_postgres(request), READY_TIMEOUT_S + 0.5),
        asyncio.wait_for(_check_kafka(request), READY_TIMEOUT_S + 0.5),
        return_exceptions=True,
    )
    checks = {
        name: "ok" if outcome is None else f"error: {type(outcome).__name__}: {outcome}"
        for name, outcome in zip(names, outcomes, strict=True)
    }
    failed = [f"{name} {checks[name]}" for name in names if checks[name] != "ok"]
    if failed:
        return JSONResponse(
            {
                "status": "unavailable",
                "checks": checks,
                "error_messages": failed,
                "reason": HttpReason.UNAVAILABLE.value,
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "checks": checks})


async def metrics(_request: Request, _inputs: Inputs) -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


async def openapi(request: Request, _inputs: Inputs) -> Response:
    document: bytes = request.app.state.openapi_json
    return Response(document, media_type="application/json")


async def docs(_request: Request, _inputs: Inputs) -> Response:
    return HTMLResponse(DOCS_HTML, headers=DOCS_HEADERS)
