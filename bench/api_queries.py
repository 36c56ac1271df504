"""Measure query throughput of a running API (GET/s and latency per endpoint).

    .venv/bin/python bench/api_queries.py --url http://127.0.0.1:8000 --dsn postgresql://...
        [--connections 32] [--seconds 10] [--messages 50] [--data-dir .data]

Seeds one thread (an administrator, a member, N messages) straight into the read model
(benchmark data only: normally the projector writes there), then keeps `--connections`
HTTP/1.1 keep-alive connections busy with one endpoint at a time. The client is a minimal
asyncio one (standard library) so that it costs the server's machine as little as possible;
on a small machine the numbers still include the client's share of the CPUs.

Requests carry a bearer token minted with the API's HS256 key: THREADWEAVER_API_JWT_KEY or
THREADWEAVER_API_JWT_KEY_FILE as the API has it, else the development key of `--data-dir`
(`threadweaver run`). One token per run: verifying it is part of every measured request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.tokens import mint  # noqa: E402
from pipeline.cli.dev_key import token_settings  # noqa: E402
from pipeline.client.commands import new_id  # noqa: E402


async def seed(dsn: str, messages: int) -> tuple[str, str]:
    thread, admin, member = new_id(), new_id(), new_id()
    now = datetime.now(tz=UTC)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO threads (id, creator_id, title, created_at, updated_at, version) "
                "VALUES ($1, $2, 'bench', $3, $3, $4)",
                thread,
                admin,
                now,
                messages + 1,
            )
            await conn.execute(
                "INSERT INTO thread_administrators VALUES ($1, $2, $3)", thread, admin, now
            )
            await conn.execute(
                "INSERT INTO thread_members VALUES ($1, $2, $3)", thread, member, now
            )
            await conn.executemany(
                "INSERT INTO messages (thread_id, id, sender_id, text, to_account_ids, "
                "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    (thread, new_id(), member, f"message {i} " + "x" * 80, [admin], now)
                    for i in range(messages)
                ],
            )
    finally:
        await conn.close()
    return thread, member


async def connection(
    address: tuple[str, int],
    request_head: str,
    until: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    host, port = address
    reader, writer = await asyncio.open_connection(host, port)
    request = request_head.encode()
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def measure(url: str, path: str, token: str, connections: int, seconds: float) -> str:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
    latencies: list[float] = []
    errors: list[int] = []
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(connection((host, port), head, until, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"{len(latencies) / elapsed:8.0f} GET/s  p50 {cuts[49] * 1000:6.1f} ms  "
        f"p99 {cuts[98] * 1000:6.1f} ms  errors {len(errors)}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--dsn", required=True, help="the read model the API reads")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--data-dir", default=None, help="whose development key signs tokens")
    args = parser.parse_args()
    thread, member = await seed(args.dsn, args.messages)
    token = mint(token_settings(os.environ, args.data_dir), member, ttl_s=3600)
    endpoints = {
        "thread": f"/v1/threads/{thread}?account_id={member}",
        "thread (min_version)": f"/v1/threads/{thread}?account_id={member}&min_version=1",
        f"messages ({args.messages})": f"/v1/threads/{thread}/messages?account_id={member}",
        "member-ids": f"/v1/threads/{thread}/member-ids?account_id={member}",
        "threads": f"/v1/threads?account_id={member}",
        "healthz": "/healthz",
    }
    for name, path in endpoints.items():
        result = await measure(args.url, path, token, args.connections, args.seconds)
        print(f"{name:22} {result}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
