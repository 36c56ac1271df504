"""Phase 6, recovery: how long a fresh worker (empty disk) takes to get 1,000 threads back,
at two lengths of history (issue 15), and what a hand-off under load costs.

Each journal is synthetic (bench/synthetic.py: gapless, `events / 1,000` events per thread)
and lives on a broker of its own (a second one-node Apache Kafka, its storage formatted fresh
in the bench's directory), so the measured workers fold exactly that journal and not what the
other phases wrote. On each broker two workers of one group run in turn, each on an empty
disk: the first finds no snapshots and folds the whole journal (the recovery time before
snapshots, `recovery.<runtime>`), answers one probe command per thread and stops, writing its
last snapshot round; the second is the fresh worker taking over, timed as
`recovery.fresh.<events>`. Each clock starts when the worker process is started; right after,
a probe process sends one AddMessages to every thread and the clock stops at the last reply
(a partition's states are restored before its first command is decided, so the last reply
comes after every thread is back). The limit is reading the same journal with a plain
consumer (no decoding, no folding).

The hand-off runs on the main stack: 1,000 cmd/s (open loop) to one worker, a second worker
(empty disk) joins a third of the way in, the first leaves at two thirds; the p99
command->reply of the commands due in the 10 s after each change, the worse of the two, is
`recovery.handoff_p99`.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import targets
from bench.context import Context
from bench.journal_topup import write_journal
from bench.kafka import start_group_at_end
from bench.phases.capacity import worker_counts
from bench.phases.latency import openloop
from bench.processes import finish_child, flags, run_child, start_child
from bench.report import Figure, Limit
from bench.scrape import total as metric_total
from bench.stats import latency_summary
from pipeline.kafka.security import KafkaConnection
from pipeline.settings import PREFIX, Topics
from pipeline.stack import broker
from pipeline.stack.layout import Layout
from pipeline.stack.ports import free_port, pick_ports
from pipeline.stack.process import spawn, stop
from pipeline.stack.topics import ensure_topics, topic_specs

PHASE = "6 recovery"
CATCH_UP = "threadweaver_worker_catch_up_events_total"
RESTORED = "threadweaver_worker_restored_threads_total"
PROBE_TIMEOUT_S = 3600
HANDOFF_RATE = 1_000.0
HANDOFF_WINDOW_S = 10.0
WARMUP_TIMEOUT_S = 300


@contextmanager
def second_broker(ctx: Context, name: str) -> Iterator[str]:
    layout = Layout.of(ctx.system.root / name)
    ports = pick_ports([broker.NAME, broker.CONTROLLER])
    node = broker.BrokerLayout(layout.kafka)
    config = broker.BrokerConfig(ports[broker.NAME], ports[broker.CONTROLLER])
    broker.prepare(node, config)
    record = spawn(broker.spec(node, layout.log(broker.NAME)), layout.run)
    try:
        bootstrap = config.bootstrap
        broker.wait_ready(bootstrap, 60, record)
        # The product's topics, as `stack up` provisions them.
        ensure_topics(
            KafkaConnection.plaintext(bootstrap), topic_specs(Topics()), ctx.config.partitions
        )
        yield bootstrap
    finally:
        stop(record, layout.run)


def recover(
    ctx: Context, bootstrap: str, runtime: str, seed: int, *, group: str, name: str
) -> dict[str, Any]:
    """Start a worker on an empty disk and time it until its reply to the last probe."""
    system, config = ctx.system, ctx.config
    port = free_port()
    worker = system.launcher.worker(
        name,
        data_dir=system.root / name,
        runtime=runtime,
        metrics_port=port,
        env={f"{PREFIX}BOOTSTRAP_SERVERS": bootstrap, f"{PREFIX}WORKER_GROUP_ID": group},
    )
    try:
        worker.start()
        probe = start_child(
            system.launcher,
            "bench.load",
            [
                "probe",
                *flags(
                    bootstrap=bootstrap,
                    partitions=config.partitions,
                    threads=config.threads,
                    seed=seed,
                    ready_timeout=PROBE_TIMEOUT_S,
                ),
            ],
            name=f"probe-{name}",
        )
        while probe.alive():
            if not worker.alive():
                probe.stop()
                raise RuntimeError(f"the recovering worker exited:\n{worker.log_tail()}")
            time.sleep(1.0)
        result = finish_child(probe, timeout=60)
        folded = metric_total(port, CATCH_UP)
        restored = metric_total(port, RESTORED)
    finally:
        # Stopped, not killed: its last snapshot round is what the next worker restores.
        code = worker.stop(timeout=300)
    if code != 0:
        raise RuntimeError(f"{name} exited with {code}:\n{worker.log_tail()}")
    if not result["complete"]:
        raise RuntimeError(f"only {result['answered']} of {config.threads} probes answered")
    return {
        **result,
        "worker_started_at": worker.started_at,
        "seconds": result["last_reply_at"] - worker.started_at,
        "first_reply_after_s": result["first_reply_at"] - worker.started_at,
        "events_folded": folded,
        "threads_restored": restored,
    }


def _raw_read(ctx: Context, bootstrap: str, topic: str, events: int) -> dict[str, Any]:
    raw = run_child(
        ctx.system.launcher,
        "bench.raw_proc",
        [
            "consume",
            *flags(
                bootstrap=bootstrap, topic=topic, partitions=ctx.config.partitions, count=events
            ),
        ],
        name="recovery-raw-read",
    )
    if raw["stalled"]:
        ctx.report.errors.append(
            f"recovery: the broker stopped serving the journal to a plain consumer after "
            f"{raw['count']} of {raw['wanted']} records; its rate is of what it read"
        )
    return {**raw, "records_per_s": raw["count"] / (raw["finished_at"] - raw["first_at"])}


def _history_figure(
    ctx: Context, runtime: str, result: dict[str, Any], journal: dict[str, Any], raw_rate: float
) -> None:
    events = result["events_folded"] or journal["events"]
    seconds = result["seconds"]
    ctx.report.add(
        Figure(
            key=f"recovery.{runtime}",
            phase=PHASE,
            name=f"fresh worker ({runtime}) without snapshots rebuilds {ctx.config.threads:,} "
            f"threads / {journal['events']:,} journal events",
            value=seconds,
            unit="s",
            note=f"{events / seconds:,.0f} events/s folded; first reply after "
            f"{result['first_reply_after_s']:.1f} s",
            method="from the worker process start (empty disk, no snapshots yet, new group) "
            "until the reply to the last of one probe command per thread, sent right after "
            "the start; includes process start and group join",
            parameters={
                "runtime": runtime,
                "threads": ctx.config.threads,
                "journal_events": journal["events"],
                "events_folded": result["events_folded"],
                "events_per_s": events / seconds,
                "first_reply_after_s": result["first_reply_after_s"],
                "probes_accepted": result["accepted"],
                "probes_rejected": result["rejected"],
            },
            limit=Limit(
                "reading the same journal, no folding",
                journal["events"] / raw_rate,
                "s",
                "one confluent-kafka consumer reading the journal from offset 0 "
                f"({raw_rate:,.0f} records/s)",
            ),
        )
    )


def _fresh_figure(
    ctx: Context,
    key: str,
    *,
    runtime: str,
    result: dict[str, Any],
    history: dict[str, Any],
    journal: dict[str, Any],
) -> Figure:
    return ctx.report.add(
        Figure(
            key=key,
            phase=PHASE,
            name=f"fresh worker ({runtime}) takes over {ctx.config.threads:,} threads with "
            f"{journal['events']:,} journal events, from snapshots",
            value=result["seconds"],
            unit="s",
            note=f"{result['threads_restored']:,.0f} threads restored, "
            f"{result['events_folded']:,.0f} events folded; first reply after "
            f"{result['first_reply_after_s']:.1f} s",
            method="the second worker of the group on an empty disk, after the first folded "
            "the journal and stopped (writing its last snapshot round): from the process start "
            "until the reply to the last of one probe command per thread",
            parameters={
                "runtime": runtime,
                "threads": ctx.config.threads,
                "journal_events": journal["events"],
                "threads_restored": result["threads_restored"],
                "events_folded": result["events_folded"],
                "first_reply_after_s": result["first_reply_after_s"],
                "probes_accepted": result["accepted"],
                "probes_rejected": result["rejected"],
                "without_snapshots_s": history["seconds"],
            },
            limit=Limit(
                "the same take-over without snapshots",
                history["seconds"],
                "s",
                "the group's first worker: empty disk, no snapshots, folds the whole journal",
            ),
            target=targets.RECOVERY_FRESH,
        )
    )


def recovery_from_snapshots(ctx: Context) -> None:
    config = ctx.config
    details: dict[str, Any] = {}
    fresh: dict[int, float] = {}
    deployed = config.recovery_runtimes[0]
    for events in config.recovery_sizes:
        seed = ctx.next_seed()
        with second_broker(ctx, f"recovery-broker-{events}") as bootstrap:
            topic = Topics().events
            journal = write_journal(
                ctx.system,
                bootstrap,
                topic,
                seed=seed,
                threads=config.threads,
                events_per_thread=max(1, events // config.threads),
            )
            raw = _raw_read(ctx, bootstrap, topic, journal["events"])
            details[str(events)] = {"journal": journal, "raw_read": raw}
            for runtime in config.recovery_runtimes:
                group = f"bench-recovery-{runtime}-{uuid.uuid4().hex[:8]}"
                label = f"{runtime}-{events}"
                history = recover(
                    ctx, bootstrap, runtime, seed, group=group, name=f"history-{label}"
                )
                taken_over = recover(
                    ctx, bootstrap, runtime, seed, group=group, name=f"fresh-{label}"
                )
                details[str(events)][runtime] = {"without_snapshots": history, "fresh": taken_over}
                if events == config.recovery_sizes[0]:
                    _history_figure(ctx, runtime, history, journal, raw["records_per_s"])
                suffix = "" if runtime == deployed else f".{runtime}"
                figure = _fresh_figure(
                    ctx,
                    f"recovery.fresh{suffix}.{events}",
                    runtime=runtime,
                    result=taken_over,
                    history=history,
                    journal=journal,
                )
                if runtime == deployed:
                    fresh[events] = figure.value or math.nan
    small, large = config.recovery_sizes
    if small in fresh and large in fresh:
        ctx.report.add(
            Figure(
                key="recovery.fresh.ratio",
                phase=PHASE,
                name=f"take-over time at {large:,} events / at {small:,} events ({deployed})",
                value=fresh[large] / fresh[small],
                unit="x",
                method="recovery.fresh of the longer journal divided by that of the shorter",
                parameters={"small_s": fresh[small], "large_s": fresh[large]},
                target=targets.RECOVERY_FLAT,
            )
        )
    ctx.report.details["recovery"] = details


def _window_p99(timeline: list[list[float | None]], start: float, end: float) -> dict[str, Any]:
    inside = [latency for due, latency in timeline if due is not None and start <= due < end]
    answered = [float(x) for x in inside if x is not None]
    return latency_summary(answered, len(inside) - len(answered))


def handoff(ctx: Context) -> None:
    system, config = ctx.system, ctx.config
    runtime = config.recovery_runtimes[0]
    group = f"bench-handoff-{runtime}-{uuid.uuid4().hex[:8]}"
    start_group_at_end(system.bootstrap, system.settings.topics.commands, group, config.partitions)
    (first,) = system.start_workers(1, runtime, group, fresh=True)
    deadline = time.monotonic() + WARMUP_TIMEOUT_S
    while worker_counts(first)[0] == 0:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the first hand-off worker answered nothing in {WARMUP_TIMEOUT_S} s"
            )
        openloop(ctx, 200, 3, threads=50)  # a warm-up; its figures are not kept
    seconds = config.handoff_seconds
    load = start_child(
        system.launcher,
        "bench.load",
        [
            "openloop",
            *flags(
                bootstrap=system.bootstrap,
                partitions=config.partitions,
                threads=config.threads,
                rate=HANDOFF_RATE,
                seconds=seconds,
                seed=ctx.next_seed(),
            ),
            "--timeline",
        ],
        name="openloop-handoff",
    )
    # The schedule starts once the load's threads are created (a few seconds).
    time.sleep(5 + seconds / 3)
    added_at = time.time()
    system.start_workers(1, runtime, group, fresh=True)
    time.sleep(seconds / 3)
    removed_at = time.time()
    first.stop(timeout=120)
    result = finish_child(load, timeout=seconds + 600)
    timeline = result.pop("timeline")
    windows = {
        "before": _window_p99(timeline, 0.0, added_at),
        "worker added": _window_p99(timeline, added_at, added_at + HANDOFF_WINDOW_S),
        "worker removed": _window_p99(timeline, removed_at, removed_at + HANDOFF_WINDOW_S),
    }
    system.stop_workers()
    worst = max(
        (w["p99_ms"] if w["p99_ms"] is not None else math.inf)
        for name, w in windows.items()
        if name != "before"
    )
    ctx.report.add(
        Figure(
            key="recovery.handoff_p99",
            phase=PHASE,
            name=f"worst p99 command→reply around a hand-off at {HANDOFF_RATE:,.0f} cmd/s "
            f"({runtime})",
            value=worst,
            unit="ms",
            note=", ".join(
                f"{name}: p99 {w['p99_ms']} ms ({w['count']} cmds)" for name, w in windows.items()
            ),
            method=f"open loop at {HANDOFF_RATE:,.0f} cmd/s to one worker; a second worker (empty "
            "disk) joins at 1/3, the first stops at 2/3; p99 of the commands due in the "
            f"{HANDOFF_WINDOW_S:.0f} s after each change (latency from the due time), the worse",
            parameters={"windows": windows, "load": result},
            target=targets.HANDOFF_P99,
        )
    )


def run(ctx: Context) -> None:
    if "fresh" in ctx.config.recovery_parts:
        recovery_from_snapshots(ctx)
    if "handoff" in ctx.config.recovery_parts:
        handoff(ctx)
