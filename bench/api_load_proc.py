"""GET load on the API from a process of its own: N keep-alive connections, each sending its
next request as soon as the previous answer is in (closed loop: the rate is what the API
sustains at that concurrency, the latencies what a client waits).

    python -m bench.api_load_proc --url URL --targets FILE --connections 50 --seconds S
        --warmup W --out F

FILE: a JSON list of {"path": ..., "authorization": ...}; connection i uses entry i mod len.
Only requests started after the warm-up and answered before the end count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.httpclient import HttpConnection
from bench.processes import run_closed_loop
from bench.stats import latency_summary


async def connection(
    url: str,
    target: dict[str, str],
    *,
    counted_from: float,
    until: float,
    latencies: list[float],
    statuses: Counter[int],
) -> None:
    http = HttpConnection(url)
    headers = {"Authorization": target["authorization"]}
    try:
        while (started := time.perf_counter()) < until:
            status, _body = await http.get(target["path"], headers)
            finished = time.perf_counter()
            if started >= counted_from and finished <= until:
                latencies.append(finished - started)
                statuses[status] += 1
    finally:
        await http.close()


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    targets = json.loads(Path(args.targets).read_text())
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    counted_from = time.perf_counter() + args.warmup
    until = counted_from + args.seconds
    await asyncio.gather(
        *(
            connection(
                args.url,
                targets[i % len(targets)],
                counted_from=counted_from,
                until=until,
                latencies=latencies,
                statuses=statuses,
            )
            for i in range(args.connections)
        )
    )
    return {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / args.seconds,
        "connections": args.connections,
        "seconds": args.seconds,
        "statuses": {str(k): v for k, v in statuses.items()},
        "latency": latency_summary(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    run_closed_loop(parser, measure)


if __name__ == "__main__":
    main()
