"""Phase 5, the query API: GET/s and latency of the thread query and the messages query at 50
concurrent connections (bench/api_load_proc.py, authenticated), against the same statements
run straight on PostgreSQL with 50 connections (bench/sql_load_proc.py).

The threads read are ones the earlier phases wrote (those with the most live messages, so
that a messages page is a full page), each read by one of its administrators.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from api.queries import LIMIT_DEFAULT
from bench import targets
from bench.auth import bearer
from bench.context import Context
from bench.processes import flags, run_child
from bench.report import Figure, Limit

PHASE = "5 query API"
CONNECTIONS = 50
THREADS_READ = 50

_PICK = """
SELECT m.thread_id, min(a.account_id) AS account_id, count(*) AS live
FROM messages m
JOIN thread_administrators a ON a.thread_id = m.thread_id
JOIN threads t ON t.id = m.thread_id AND t.destroyed_at IS NULL
WHERE m.removed_at IS NULL
GROUP BY m.thread_id
ORDER BY count(*) DESC
LIMIT $1
"""


async def pick_threads(dsn: str) -> list[tuple[str, str, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(_PICK, THREADS_READ)
    finally:
        await conn.close()
    return [(r["thread_id"], r["account_id"], int(r["live"])) for r in rows]


def paths(query: str, thread_id: str, account_id: str) -> str:
    suffix = "/messages" if query == "messages" else ""
    return f"/v1/threads/{thread_id}{suffix}?account_id={account_id}"


def run(ctx: Context) -> None:
    system, config = ctx.system, ctx.config
    system.stop_workers()
    system.stop_projector()  # nothing left to project; it would only add noise
    api_url = system.start_api()
    picked = asyncio.run(pick_threads(system.endpoints.pg_dsn))
    if not picked:
        raise RuntimeError("no thread with messages in the read model to read")
    details: dict[str, Any] = {"threads": len(picked), "live_messages": [p[2] for p in picked]}
    sql_targets = system.root / "sql-targets.json"
    sql_targets.write_text(json.dumps([[t, a] for t, a, _ in picked]))
    for query in ("thread", "messages"):
        http_targets = system.root / f"http-targets-{query}.json"
        http_targets.write_text(
            json.dumps(
                [{"path": paths(query, t, a), "authorization": bearer(a)} for t, a, _ in picked]
            )
        )
        common = ["--connections", str(CONNECTIONS), "--seconds", str(config.api_seconds)]
        api = run_child(
            system.launcher,
            "bench.api_load_proc",
            ["--url", api_url, "--targets", str(http_targets), *common],
            name=f"api-load-{query}",
        )
        raw = run_child(
            system.launcher,
            "bench.sql_load_proc",
            [
                *flags(dsn=system.endpoints.pg_dsn, query=query, targets=sql_targets),
                *common,
            ],
            name=f"sql-load-{query}",
        )
        details[query] = {"api": api, "sql": raw}
        _figures(ctx, query, api, raw, picked)
    ctx.report.details["api"] = details
    system.stop_api()


def _figures(
    ctx: Context,
    query: str,
    api: dict[str, Any],
    raw: dict[str, Any],
    picked: list[tuple[str, str, int]],
) -> None:
    label = (
        "GET /v1/threads/{id}"
        if query == "thread"
        else f"GET /v1/threads/{{id}}/messages (page of {LIMIT_DEFAULT})"
    )
    ok = api["statuses"].get("200", 0)
    parameters = {
        "connections": CONNECTIONS,
        "seconds": api["seconds"],
        "api_workers": ctx.config.api_workers,
        "threads_read": len(picked),
        "min_live_messages": min(p[2] for p in picked),
        "statuses": api["statuses"],
        "latency_ms": api["latency"],
        "raw_sql": raw,
    }
    method = (
        f"{CONNECTIONS} keep-alive connections from a separate asyncio process, closed loop, "
        "each request with a bearer token (HS256) of a reader of the thread; "
        f"{ctx.config.api_workers} API process(es)"
    )
    lat = api["latency"]
    ctx.report.add(
        Figure(
            key=f"api.{query}.rate",
            phase=PHASE,
            name=f"{label}: requests/s at {CONNECTIONS} connections",
            value=api["requests_per_s"],
            unit="GET/s",
            note=f"{ok:,} answered 200 of {api['requests']:,}",
            method=method,
            parameters=parameters,
            limit=Limit(
                "same SQL over asyncpg, 50 connections",
                float(raw["queries_per_s"]),
                "queries/s",
                "bench/sql_load_proc.py: the statement of api/sql.py for this query, one "
                "connection per task, closed loop",
            ),
            target=targets.API_RATE,
        )
    )
    ctx.report.add(
        Figure(
            key=f"api.{query}.p99",
            phase=PHASE,
            name=f"{label}: p99 latency at {CONNECTIONS} connections",
            value=lat["p99_ms"],
            unit="ms",
            note=f"p50 {lat['p50_ms']} ms; raw SQL p99 {raw['latency']['p99_ms']} ms",
            method=method + "; exact percentiles of all requests in the window",
            parameters=parameters,
            target=targets.API_P99,
        )
    )
