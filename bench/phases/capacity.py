"""Phase 2a, command-side capacity: how many commands/s N workers work off a backlog.

A load process first produces the creation of 1,000 threads and then a backlog of mixed
commands larger than the workers can handle in the measured window, into a new consumer
group whose offsets start at the end of the commands topic. Only then do the workers start,
so during the window nothing but the workers and the broker uses the CPUs. Each worker's own
counter (threadweaver_worker_commands_total, per outcome) is read every second; the rate is
the counter's growth over the steady window: from `warmup` after every worker has answered
its first command, for `capacity_seconds`, cut short before the backlog runs dry.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench.context import Context
from bench.kafka import start_group_at_end
from bench.processes import finish_child, flags, start_child
from bench.scrape import scrape
from bench.stats import window_rate
from pipeline.system import Component

COMMANDS = "threadweaver_worker_commands_total"
SAMPLE_S = 1.0
# The run stops once this share of the backlog is handled...
DRY = 0.98
# ...but the window ends earlier: partitions run out of backlog at different times, so near
# the end some workers are idle and the rate sags.
STEADY = 0.9


@dataclass
class CapacityRun:
    runtime: str
    workers: int
    backlog: dict[str, Any]
    expected: int
    handled_per_s: float = math.nan
    accepted_per_s: float = math.nan
    window_s: float = 0.0
    journal_events_per_s: float = math.nan
    first_answer_s: float = math.nan
    drained: bool = False
    series: list[tuple[float, float, float]] = field(default_factory=list)  # t, handled, accepted

    def as_dict(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "workers": self.workers,
            "backlog": self.backlog,
            "expected": self.expected,
            "handled_per_s": self.handled_per_s,
            "accepted_per_s": self.accepted_per_s,
            "window_s": self.window_s,
            "journal_events_per_s": self.journal_events_per_s,
            "first_answer_s": self.first_answer_s,
            "drained": self.drained,
            "series": [[round(t, 2), h, a] for t, h, a in self.series],
        }


def worker_counts(worker: Component) -> tuple[float, float]:
    """(commands handled, commands accepted) so far; zeros until the endpoint answers."""
    try:
        samples = scrape(int(worker.env["THREADWEAVER_WORKER_METRICS_PORT"]))
    except OSError:
        return 0.0, 0.0
    mine = [(labels, v) for name, labels, v in samples if name == COMMANDS]
    return sum(v for _, v in mine), sum(v for labels, v in mine if labels["outcome"] == "accepted")


def produce_backlog(ctx: Context, group: str, count: int) -> dict[str, Any]:
    """Two load processes (both CPUs are idle before the workers start), 500 threads each."""
    system = ctx.system
    start_group_at_end(
        system.bootstrap, system.settings.topics.commands, group, ctx.config.partitions
    )
    halves = [count // 2, count - count // 2]
    children = [
        start_child(
            system.launcher,
            "bench.load",
            [
                "backlog",
                *flags(
                    bootstrap=system.bootstrap,
                    partitions=ctx.config.partitions,
                    threads=ctx.config.threads // 2,
                    count=half,
                    seed=ctx.next_seed(),
                ),
            ],
            name="backlog",
        )
        for half in halves
    ]
    results = [finish_child(child, timeout=1800) for child in children]
    commands = sum(r["commands"] for r in results)
    return {
        "commands": commands,
        "creates": sum(r["creates"] for r in results),
        "kinds": {k: sum(r["kinds"].get(k, 0) for r in results) for k in results[0]["kinds"]},
        "produce_seconds": max(r["seconds"] for r in results),
        "produced_per_s": commands / max(r["seconds"] for r in results),
    }


def run_capacity(
    ctx: Context, runtime: str, workers: int, rate_guess: float, *, profile: bool = False
) -> CapacityRun:
    """`profile`: record the first worker with py-spy during the window (bench/profile.py)."""
    config, system = ctx.config, ctx.system
    group = f"bench-capacity-{runtime}-{workers}-{uuid.uuid4().hex[:8]}"
    # Enough work for warm-up + window (+ a margin for joining the group and catching up).
    count = int(1.3 * (config.capacity_seconds + config.warmup_seconds + 10) * rate_guess)
    backlog = produce_backlog(ctx, group, count)
    run = CapacityRun(runtime, workers, backlog, expected=backlog["commands"])
    events_topic = system.settings.topics.events
    started = system.start_workers(workers, runtime, group)
    t0 = time.monotonic()
    first: dict[int, float] = {}
    window_start = math.inf
    journal_start: tuple[float, int] | None = None
    journal_end: tuple[float, int] | None = None
    profiler: Component | None = None
    try:
        while True:
            time.sleep(SAMPLE_S)
            now = time.monotonic() - t0
            handled = accepted = 0.0
            for worker in started:
                h, a = worker_counts(worker)
                handled, accepted = handled + h, accepted + a
                if h > 0:
                    first.setdefault(worker.pid, now)
            run.series.append((now, handled, accepted))
            dead = [w.name for w in started if not w.alive()]
            if dead:
                raise RuntimeError(f"workers died: {dead}\n{started[0].log_tail()}")
            if len(first) == len(started) and math.isinf(window_start):
                window_start = max(first.values()) + config.warmup_seconds
                run.first_answer_s = max(first.values())
            if journal_start is None and now >= window_start:
                journal_start = (now, system.records(events_topic))
                if profile:
                    profiler = start_profile(ctx, started[0], f"{runtime}-{workers}w")
            if handled >= DRY * run.expected:
                run.drained = True
                break
            if now >= window_start + config.capacity_seconds:
                break
            if now > config.capacity_seconds + 300 and math.isinf(window_start):
                raise RuntimeError("the workers never all answered")
        if journal_start is not None:
            journal_end = (time.monotonic() - t0, system.records(events_topic))
        if profiler is not None:
            ctx.report.details.setdefault("profiles", []).append(finish_child(profiler, 300))
    finally:
        system.stop_workers()
    end = run.series[-1][0]
    if run.drained:
        end = max((t for t, h, _ in run.series if h <= STEADY * run.expected), default=end)
    handled_series = [(t, h) for t, h, _ in run.series]
    accepted_series = [(t, a) for t, _, a in run.series]
    run.handled_per_s, run.window_s, _ = window_rate(handled_series, window_start, end)
    run.accepted_per_s, _, _ = window_rate(accepted_series, window_start, end)
    if journal_start is not None and journal_end is not None and journal_end[0] > journal_start[0]:
        run.journal_events_per_s = (journal_end[1] - journal_start[1]) / (
            journal_end[0] - journal_start[0]
        )
    return run


def start_profile(ctx: Context, worker: Component, label: str) -> Component:
    seconds = min(30.0, ctx.config.capacity_seconds)
    return start_child(
        ctx.system.launcher,
        "bench.profile",
        [
            *flags(
                pid=worker.pid,
                seconds=seconds,
                name=f"worker-{label}",
                results_dir=ctx.config.results_dir,
            ),
        ],
        name=f"profile-{label}",
    )
