"""Phase 6, recovery: how long a fresh worker (empty RocksDB directory) takes to rebuild the
state of 1,000 threads from a journal of `recovery_events` events.

The journal is synthetic (bench/synthetic.py: gapless, 1,000 events per thread at scale 1)
and lives on a broker of its own (a second one-node Apache Kafka, its storage formatted fresh
in the bench's directory), so the measured worker folds exactly that journal and not what the
other phases wrote. The clock starts when the worker process is started; right after, a
probe process sends one AddMessages to every thread and the clock stops at the last reply. A
worker catches a partition up (folds its whole journal into RocksDB) before it decides the
first command of that partition, so the last reply comes after every thread's state was
rebuilt; the time includes the process start and joining the consumer group, as a restarted
pod would see it. The limit is reading the same journal with a plain consumer (no decoding,
no folding).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.context import Context
from bench.journal_topup import write_journal
from bench.processes import finish_child, flags, run_child, start_child
from bench.report import Figure, Limit
from bench.scrape import total as metric_total
from pipeline.kafka.security import KafkaConnection
from pipeline.settings import PREFIX, Topics
from pipeline.stack import broker
from pipeline.stack.layout import Layout
from pipeline.stack.ports import free_port, pick_ports
from pipeline.stack.process import spawn, stop
from pipeline.stack.topics import ensure_topics, topic_specs

PHASE = "6 recovery"
CATCH_UP = "threadweaver_worker_catch_up_events_total"
PROBE_TIMEOUT_S = 1200


@contextmanager
def second_broker(ctx: Context) -> Iterator[str]:
    layout = Layout.of(ctx.system.root / "recovery-broker")
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


def recover(ctx: Context, bootstrap: str, runtime: str, seed: int) -> dict[str, Any]:
    system, config = ctx.system, ctx.config
    port = free_port()
    worker = system.launcher.worker(
        f"recovery-worker-{runtime}",
        data_dir=system.root / f"recovery-worker-{runtime}",
        runtime=runtime,
        metrics_port=port,
        env={
            f"{PREFIX}BOOTSTRAP_SERVERS": bootstrap,
            f"{PREFIX}WORKER_GROUP_ID": f"bench-recovery-{runtime}-{uuid.uuid4().hex[:8]}",
        },
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
            name=f"probe-{runtime}",
        )
        while probe.alive():
            if not worker.alive():
                probe.stop()
                raise RuntimeError(f"the recovering worker exited:\n{worker.log_tail()}")
            time.sleep(1.0)
        result = finish_child(probe, timeout=60)
        folded = metric_total(port, CATCH_UP)
    finally:
        worker.stop()
    if not result["complete"]:
        raise RuntimeError(f"only {result['answered']} of {config.threads} probes answered")
    return {
        **result,
        "worker_started_at": worker.started_at,
        "seconds": result["last_reply_at"] - worker.started_at,
        "first_reply_after_s": result["first_reply_at"] - worker.started_at,
        "events_folded": folded,
    }


def run(ctx: Context) -> None:
    system, config = ctx.system, ctx.config
    per_thread = max(1, config.recovery_events // config.threads)
    seed = ctx.next_seed()
    details: dict[str, Any] = {}
    with second_broker(ctx) as bootstrap:
        topic = Topics().events
        journal = write_journal(
            system,
            bootstrap,
            topic,
            seed=seed,
            threads=config.threads,
            events_per_thread=per_thread,
        )
        raw = run_child(
            system.launcher,
            "bench.raw_proc",
            [
                "consume",
                *flags(
                    bootstrap=bootstrap,
                    topic=topic,
                    partitions=config.partitions,
                    count=journal["events"],
                ),
            ],
            name="recovery-raw-read",
        )
        raw_rate = raw["count"] / (raw["finished_at"] - raw["first_at"])
        if raw["stalled"]:
            ctx.report.errors.append(
                f"recovery: the broker stopped serving the journal to a plain consumer after "
                f"{raw['count']} of {raw['wanted']} records; its rate is of what it read"
            )
        details["journal"] = journal
        details["raw_read"] = {**raw, "records_per_s": raw_rate}
        for runtime in config.recovery_runtimes:
            result = recover(ctx, bootstrap, runtime, seed)
            details[runtime] = result
            events = result["events_folded"] or journal["events"]
            seconds = result["seconds"]
            ctx.report.add(
                Figure(
                    key=f"recovery.{runtime}",
                    phase=PHASE,
                    name=f"fresh worker ({runtime}) rebuilds {config.threads:,} threads / "
                    f"{journal['events']:,} journal events",
                    value=seconds,
                    unit="s",
                    note=f"{events / seconds:,.0f} events/s folded; first reply after "
                    f"{result['first_reply_after_s']:.1f} s",
                    method="from the worker process start (empty RocksDB dir, new group) until "
                    "the reply to the last of one probe command per thread, sent right after "
                    "the start; includes process start and group join",
                    parameters={
                        "runtime": runtime,
                        "threads": config.threads,
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
    ctx.report.details["recovery"] = details
