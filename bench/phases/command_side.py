"""Phase 2, the command side: capacity with 1 and 2 workers, then command->reply latency at
fixed offered loads (100 and 1,000 cmd/s, and 80 % of the measured 2-worker capacity), for
each worker runtime."""

from __future__ import annotations

import math
from typing import Any

from bench import targets
from bench.context import Context
from bench.phases.capacity import CapacityRun, run_capacity
from bench.phases.latency import openloop, start_latency_workers
from bench.report import Figure, Limit

PHASE = "2 command side"
LATENCY_WORKERS = 2


def _raw_limit(ctx: Context) -> Limit | None:
    if ctx.raw_event_rate is None:
        return None
    return Limit(
        "raw broker, event-sized records",
        ctx.raw_event_rate,
        "records/s",
        "phase 1: produce+consume of event-sized records; each accepted command costs the "
        "worker one command consumed, one event and one reply produced",
    )


def _capacity_figures(ctx: Context, run: CapacityRun) -> None:
    limit = _raw_limit(ctx)
    two = run.workers == 2
    label = f"{run.workers} worker{'s' if run.workers > 1 else ''}, {run.runtime}"
    method = (
        "backlog of mixed commands over 1,000 threads produced before the workers start "
        "(a separate load process); growth of the workers' accepted-commands counter over the "
        "steady window"
    )
    parameters = {
        "runtime": run.runtime,
        "workers": run.workers,
        "window_s": round(run.window_s, 1),
        "handled_per_s": round(run.handled_per_s, 1),
        "journal_events_per_s": round(run.journal_events_per_s, 1),
        "backlog_commands": run.expected,
        "backlog_ran_dry": run.drained,
        "first_answer_after_s": round(run.first_answer_s, 1),
    }
    ctx.report.add(
        Figure(
            key=f"command.capacity.{run.runtime}.{run.workers}",
            phase=PHASE,
            name=f"accepted commands/s, {label}",
            value=run.accepted_per_s,
            unit="cmd/s",
            note=f"{run.handled_per_s:,.0f} handled/s",
            method=method,
            parameters=parameters,
            limit=limit,
            target=targets.ACCEPTED_2_WORKERS if two else None,
        )
    )
    if two and limit is not None:
        ctx.report.add(
            Figure(
                key=f"command.share_of_raw.{run.runtime}",
                phase=PHASE,
                name=f"accepted commands/s as a share of the raw broker rate ({label})",
                value=run.accepted_per_s / limit.value * 100,
                unit="%",
                method="accepted commands/s (2 workers) / raw produce+consume records/s of "
                "event-sized records (phase 1)",
                parameters=parameters,
                target=targets.SHARE_OF_RAW,
            )
        )


def _latency_figure(ctx: Context, runtime: str, rate: float, result: dict[str, Any]) -> None:
    latency = result["latency"]
    at_1000 = math.isclose(rate, 1_000)
    ctx.report.add(
        Figure(
            key=f"command.reply_p99.{runtime}.{rate:.0f}",
            phase=PHASE,
            name=f"p99 command→reply at {rate:,.0f} cmd/s offered ({LATENCY_WORKERS} workers, "
            f"{runtime})",
            value=latency["p99_ms"],
            unit="ms",
            note=f"p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms, "
            f"missing {latency['missing']}",
            method="open-loop load process (fixed schedule, latency from each command's "
            "scheduled send time to its reply, coordinated-omission-free); exact percentiles "
            "of all samples; commands without a reply count as infinitely late",
            parameters={
                "runtime": runtime,
                "workers": LATENCY_WORKERS,
                "offered_per_s": rate,
                "seconds": result["seconds"],
                "sent": result["sent"],
                "accepted": result["accepted"],
                "rejected": result["rejected"],
                "latency_ms": latency,
                "send_lag_ms": result["send_lag"],
            },
            target=targets.REPLY_P99 if at_1000 else None,
        )
    )


def run(ctx: Context) -> None:
    config = ctx.config
    details: dict[str, Any] = {}
    best_one = 0.0
    for runtime in config.runtimes:
        # The backlog must outlast the window: size it from what the previous runs did.
        one = run_capacity(ctx, runtime, 1, max(config.rate_guess, 1.5 * best_one))
        _capacity_figures(ctx, one)
        if one.handled_per_s > 0:
            best_one = max(best_one, one.handled_per_s)
        guess = 2 * max(best_one, config.rate_guess / 2)
        two = run_capacity(ctx, runtime, 2, guess, profile=config.profile)
        _capacity_figures(ctx, two)
        runs: dict[str, Any] = {"capacity": [one.as_dict(), two.as_dict()], "latency": []}
        if not math.isnan(two.handled_per_s):
            ctx.capacity_2_workers[runtime] = two.handled_per_s
        rates = [100.0, 1_000.0]
        if not math.isnan(two.handled_per_s):
            rates.append(round(0.8 * two.handled_per_s))
        start_latency_workers(ctx, runtime, LATENCY_WORKERS)
        try:
            for rate in rates:
                result = openloop(ctx, rate, config.latency_seconds)
                runs["latency"].append(result)
                _latency_figure(ctx, runtime, rate, result)
        finally:
            ctx.system.stop_workers()
        details[runtime] = runs
    ctx.report.details["command"] = details
