"""The API's limit: the same read-model statements straight over asyncpg, no HTTP, no app.

    python -m bench.sql_load_proc --dsn DSN --query thread|messages --targets FILE
        --connections 50 --seconds S --warmup W --out F

FILE: a JSON list of [thread_id, account_id]. Each of N tasks holds its own connection and
runs the statement the API runs for that query (api/sql.py), closed loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import asyncpg

from api import sql
from api.queries import LIMIT_DEFAULT
from bench.processes import run_closed_loop
from bench.stats import latency_summary


def statement(query: str, thread_id: str, account_id: str) -> sql.Query:
    if query == "thread":
        return sql.thread_view(thread_id, account_id)
    return sql.message_page(thread_id, account_id, None, LIMIT_DEFAULT)


async def task(
    dsn: str,
    q: sql.Query,
    counted_from: float,
    until: float,
    latencies: list[float],
) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        while (started := time.perf_counter()) < until:
            await conn.fetch(q.sql, *q.args)
            finished = time.perf_counter()
            if started >= counted_from and finished <= until:
                latencies.append(finished - started)
    finally:
        await conn.close()


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    targets = json.loads(Path(args.targets).read_text())
    latencies: list[float] = []
    counted_from = time.perf_counter() + args.warmup
    until = counted_from + args.seconds
    queries = [statement(args.query, *targets[i % len(targets)]) for i in range(args.connections)]
    await asyncio.gather(*(task(args.dsn, q, counted_from, until, latencies) for q in queries))
    return {
        "queries": len(latencies),
        "queries_per_s": len(latencies) / args.seconds,
        "connections": args.connections,
        "seconds": args.seconds,
        "latency": latency_summary(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--query", choices=("thread", "messages"), required=True)
    run_closed_loop(parser, measure)


if __name__ == "__main__":
    main()
