"""Phase 1, the physical limit: what the broker moves with no Threadweaver code on top.

A producer process and a consumer process (confluent-kafka) move a fixed number of records
of the size of our encoded commands and events through topics with as many partitions as
ours; the rate is records / (last record consumed - first record produced).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bench.context import Context
from bench.load import mix as bench_mix
from bench.processes import finish_child, start_child
from bench.report import Figure
from pipeline.codec import encode_command, encode_event, encode_reply
from pipeline.domain import Accepted, DecisionContext, Thread, decide, replay
from pipeline.stack.topics import TopicSpec, ensure_topics
from pipeline.worker.handling import reply_for

PHASE = "1 raw broker"


def typical_sizes(samples: int = 2_000) -> tuple[int, int, int]:
    """Mean encoded size of the mix's commands after the creations, of their events and of
    their replies."""
    mix = bench_mix(seed=1)
    models, states = [], {}
    context = DecisionContext(now=datetime.now(tz=UTC), command_offset=0)
    for _ in range(20):
        command, model = mix.create()
        decision = decide(None, command, context)
        assert isinstance(decision, Accepted)
        states[model.thread_id] = replay(decision.events, None)
        models.append(model)
    command_sizes: list[int] = []
    event_sizes: list[int] = []
    reply_sizes: list[int] = []
    for n in range(samples):
        model = models[n % len(models)]
        command, _kind = mix.next(model)
        state: Thread | None = states[model.thread_id]
        decision = decide(state, command, context)
        command_sizes.append(len(encode_command(command)))
        if isinstance(decision, Accepted) and decision.events:
            reply_sizes.append(len(encode_reply(reply_for(command, decision))))
            event_sizes.extend(len(encode_event(e)) for e in decision.events)
            states[model.thread_id] = replay(decision.events, state)

    def mean(sizes: list[int]) -> int:
        return round(sum(sizes) / len(sizes))

    return mean(command_sizes), mean(event_sizes), mean(reply_sizes)


def run(ctx: Context) -> None:
    system, config = ctx.system, ctx.config
    ctx.command_bytes, ctx.event_bytes, reply_bytes = typical_sizes()
    count = config.raw_messages
    details: dict[str, Any] = {"reply_bytes": reply_bytes}
    for kind, size in (("command", ctx.command_bytes), ("event", ctx.event_bytes)):
        topic = f"bench.raw-{kind}s"
        ensure_topics(system.settings.kafka, [TopicSpec(topic)], config.partitions)
        common = ["--bootstrap", system.bootstrap, "--topic", topic, "--count", str(count)]
        consumer = start_child(
            system.launcher,
            "bench.raw_proc",
            ["consume", *common, "--partitions", str(config.partitions)],
            name=f"raw-consume-{kind}",
        )
        producer = start_child(
            system.launcher,
            "bench.raw_proc",
            ["produce", *common, "--size", str(size)],
            name=f"raw-produce-{kind}",
        )
        produced = finish_child(producer, timeout=900)
        consumed = finish_child(consumer, timeout=900)
        if consumed["stalled"]:
            raise RuntimeError(
                f"the broker stopped serving {topic} after {consumed['count']} of {count} records"
            )
        seconds = consumed["finished_at"] - produced["started_at"]
        rate = count / seconds
        produce_rate = count / (produced["finished_at"] - produced["started_at"])
        mb_s = rate * size / 1e6
        details[kind] = {
            "record_bytes": size,
            "records": count,
            "seconds": seconds,
            "records_per_s": rate,
            "mb_per_s": mb_s,
            "produce_only_records_per_s": produce_rate,
        }
        if kind == "event":
            ctx.raw_event_rate = rate
        ctx.report.add(
            Figure(
                key=f"raw.{kind}",
                phase=PHASE,
                name=f"produce+consume, {kind}-sized records ({size} B)",
                value=rate,
                unit="records/s",
                note=f"{mb_s:.1f} MB/s",
                method="one confluent-kafka producer process (idempotent, acks=all, linger 2 ms, "
                "murmur2 over 1,000 keys) and one consumer process reading every partition "
                "from the start, concurrently; records / (last consumed - first produced)",
                parameters={
                    "records": count,
                    "record_bytes": size,
                    "partitions": config.partitions,
                    "produce_only_records_per_s": round(produce_rate),
                    "mb_per_s": round(mb_s, 2),
                },
            )
        )
    ctx.report.details["raw"] = details
