"""Open-loop latency runs: a load process sends at a fixed rate to running workers (see
bench/load.py for why latencies are taken from the scheduled send times)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench.context import Context
from bench.kafka import start_group_at_end
from bench.phases.capacity import worker_counts
from bench.processes import flags, run_child

WARMUP_TIMEOUT_S = 300


def openloop(
    ctx: Context,
    rate: float,
    seconds: float,
    *,
    visible_every: int = 0,
    api_url: str = "",
    threads: int | None = None,
) -> dict[str, Any]:
    system = ctx.system
    args = [
        "openloop",
        *flags(
            bootstrap=system.bootstrap,
            partitions=ctx.config.partitions,
            threads=threads or ctx.config.threads,
            rate=rate,
            seconds=seconds,
            seed=ctx.next_seed(),
        ),
    ]
    if visible_every:
        args += ["--visible-every", str(visible_every), "--api-url", api_url]
    return run_child(system.launcher, "bench.load", args, name=f"openloop-{rate:.0f}", timeout=1800)


def start_latency_workers(ctx: Context, runtime: str, workers: int) -> None:
    """Start the workers of a new group and return once each has answered commands: a latency
    run must not include the group forming, or a rebalance when the last worker joins."""
    group = f"bench-latency-{runtime}-{workers}-{uuid.uuid4().hex[:8]}"
    start_group_at_end(
        ctx.system.bootstrap, ctx.system.settings.topics.commands, group, ctx.config.partitions
    )
    started = ctx.system.start_workers(workers, runtime, group)
    deadline = time.monotonic() + WARMUP_TIMEOUT_S
    while not all(worker_counts(w)[0] > 0 for w in started):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not every worker answered within {WARMUP_TIMEOUT_S} s")
        openloop(ctx, 200, 3, threads=50)  # a warm-up; its figures are not kept
