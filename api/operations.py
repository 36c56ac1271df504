"""Operational endpoints: liveness, readiness, metrics, the OpenAPI document, Swagger UI."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api import sql
from api.errors import HttpReason
from api.metrics import exposition
from api.models import Health, Readiness, ReadinessChecks
from api.responses import JsonResponse
from api.services import services
from api.spec import Call
from api.swagger import DOCS_HEADERS, DOCS_HTML

READY_TIMEOUT_S = 2.0


async def healthz(_request: Request, _call: Call[None, None]) -> Response:
    # Liveness only: the event loop answers. Dependencies belong to /readyz, so that an
    # outage of Postgres or Kafka takes pods out of rotation instead of restarting them.
    alive: Health = {"status": "ok"}
    return JsonResponse(alive)


async def _check_postgres(request: Request) -> None:
    s = services(request)
    query = sql.ping()
    async with s.pool.acquire(timeout=READY_TIMEOUT_S) as conn:
        await conn.fetchval(query.sql, *query.args, timeout=READY_TIMEOUT_S)


async def _check_kafka(request: Request) -> None:
    await asyncio.to_thread(services(request).kafka_probe)


async def readyz(request: Request, _call: Call[None, None]) -> Response:
    outcomes = await asyncio.gather(
        asyncio.wait_for(_check_postgres(request), READY_TIMEOUT_S + 0.5),
        asyncio.wait_for(_check_kafka(request), READY_TIMEOUT_S + 0.5),
        return_exceptions=True,
    )
    postgres, kafka = (
        "ok" if outcome is None else f"error: {type(outcome).__name__}: {outcome}"
        for outcome in outcomes
    )
    checks: ReadinessChecks = {"postgres": postgres, "kafka": kafka}
    failed = [f"{name} {check}" for name, check in checks.items() if check != "ok"]
    if failed:
        unavailable: Readiness = {
            "status": "unavailable",
            "checks": checks,
            "error_messages": failed,
            "reason": HttpReason.UNAVAILABLE.value,
        }
        return JsonResponse(unavailable, status_code=503)
    ready: Readiness = {"status": "ready", "checks": checks}
    return JsonResponse(ready)


async def metrics(_request: Request, _call: Call[None, None]) -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


async def openapi(request: Request, _call: Call[None, None]) -> Response:
    document: bytes = request.app.state.openapi_json
    return Response(document, media_type="application/json")


async def docs(_request: Request, _call: Call[None, None]) -> Response:
    return HTMLResponse(DOCS_HTML, headers=DOCS_HEADERS)
