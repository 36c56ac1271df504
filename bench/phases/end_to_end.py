"""Phase 3, end to end: command -> visible in the query API at 1,000 cmd/s, with workers, the
projector and the API (authenticated) running. The open-loop load process samples one
AddMessages in `e2e_sample_every` and follows it in the API (bench/visibility.py)."""

from __future__ import annotations

import time

from bench import targets
from bench.context import Context
from bench.kafka import group_lag
from bench.phases.latency import openloop, start_latency_workers
from bench.report import Figure

PHASE = "3 end to end"
RATE = 1_000.0
PROJECTOR_GROUP = "threadweaver-projector"


def wait_projector_caught_up(ctx: Context, timeout: float = 1800.0) -> float:
    """The projector must start the measurement with no backlog of its own."""
    system = ctx.system
    started = time.monotonic()
    while True:
        lag = group_lag(
            system.bootstrap, system.settings.topics.events, PROJECTOR_GROUP, ctx.config.partitions
        )
        if lag == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the projector is still {lag} records behind")
        if system.projector is None or not system.projector.alive():
            raise RuntimeError("the projector is not running")
        time.sleep(1.0)


def run(ctx: Context) -> None:
    system, config = ctx.system, ctx.config
    runtime = config.runtimes[0]
    system.start_projector()
    catch_up_s = wait_projector_caught_up(ctx)
    api_url = system.start_api()
    start_latency_workers(ctx, runtime, config.e2e_workers)
    try:
        result = openloop(
            ctx, RATE, config.e2e_seconds, visible_every=config.e2e_sample_every, api_url=api_url
        )
    finally:
        system.stop_workers()
    ctx.report.details["e2e"] = {**result, "projector_catch_up_s": catch_up_s}
    visible, reply = result["visible"], result["latency"]
    poll_ms = visible["poll_interval_s"] * 1000
    ctx.report.add(
        Figure(
            key="e2e.visible_p99",
            phase=PHASE,
            name=f"p99 command→visible in the API at {RATE:,.0f} cmd/s ({config.e2e_workers} "
            f"workers, {runtime}, projector, API with JWT auth)",
            value=visible["p99_ms"],
            unit="ms",
            note=f"p50 {visible['p50_ms']} ms, {visible['count']} samples, missing "
            f"{visible['missing']}; command→reply p99 {reply['p99_ms']} ms",
            method="open-loop load process at 1,000 cmd/s; every "
            f"{config.e2e_sample_every}th AddMessages is followed: once its reply gives version "
            f"V, GET /v1/threads/{{id}} (bearer token) every {poll_ms:.0f} ms "
            "until the API shows version >= V; latency from the command's scheduled send time "
            "to that answer (exact to one poll interval)",
            parameters={
                "offered_per_s": RATE,
                "seconds": result["seconds"],
                "workers": config.e2e_workers,
                "runtime": runtime,
                "api_workers": config.api_workers,
                "visible_ms": visible,
                "reply_ms": reply,
            },
            target=targets.VISIBLE_P99,
        )
    )
