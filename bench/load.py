"""The command load generator: a process of its own, never the workers'. It drives the
shipped client (pipeline/client: CommandClient and the load generator's Mix), so what the
bench measures is what a user of the client gets.

    python -m bench.load backlog  --bootstrap H:P --partitions 4 --threads 1000 --count N --out F
    python -m bench.load openloop --bootstrap H:P --partitions 4 --threads 1000 --rate R
        --seconds S [--visible-every K --api-url URL] --out F
    python -m bench.load probe    --bootstrap H:P --partitions 4 --seed S --threads 1000 --out F

backlog: produce the creations and then N mixed commands as fast as possible, without waiting
for anything (the capacity runs measure how fast the workers work it off).

openloop: create the threads and wait for them, then send at a fixed rate: command i is due
at t0 + i/R whatever happened to the earlier ones, and its latency is measured from that due
time, not from when it was actually sent, so a stall of the system (or of this process) shows
up in every command it delayed (no coordinated omission).

probe: one AddMessages to each synthetic thread (bench/synthetic.py), and wait for every
reply: what the recovery phase times.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import synthetic
from bench.processes import write_result
from bench.stats import latency_summary
from bench.visibility import Sample, VisibilityPoller
from pipeline.client import CommandClient, CommandFactory, ReplyTimeoutError
from pipeline.client.loadgen import POST, Mix, Shares, ThreadModel
from pipeline.domain import Command
from pipeline.kafka.producer import DeliveryError
from pipeline.kafka.replies import CommandAccepted, CommandRejected, Reply
from pipeline.settings import Settings

# Mostly AddMessages, some joins, leaves and removes, all of them valid: the mix.
SHARES = Shares(
    join=0.05, leave=0.05, remove=0.05, stranger=0.0, other_remover=0.0, reply=0.2, to=0.2
)
ACCOUNTS = 200
# Commands handed to the client at once while producing a backlog.
BACKLOG_CHUNK = 5_000


def mix(seed: int) -> Mix:
    return Mix(random.Random(seed), accounts=ACCOUNTS, shares=SHARES)


def client(args: argparse.Namespace) -> CommandClient:
    # The embedded stack's broker (or the recovery phase's own): plain TCP.
    return CommandClient(Settings(bootstrap_servers=args.bootstrap, partitions=args.partitions))


@dataclass
class Tally:
    """How the commands sent so far were answered."""

    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    missing: int = 0
    first_reply: float | None = None  # time.time()
    last_reply: float | None = None
    # With `timeline`: (due, latency) of each command, due as time.perf_counter(); a command
    # never answered has latency None.
    timeline: list[tuple[float, float | None]] | None = None

    def answered(self, reply: Reply, latency: float) -> None:
        self.latencies.append(latency)
        wall = time.time()
        self.first_reply = self.first_reply or wall
        self.last_reply = wall
        if isinstance(reply, CommandRejected):
            self.rejected[reply.reason.value] += 1
        else:
            self.accepted += 1

    async def send(
        self, commands: CommandClient, command: Command, due: float, timeout: float
    ) -> Reply | None:
        """`command`'s reply, its latency taken from `due` (time.perf_counter())."""
        try:
            reply = await commands.send(command, timeout)
        except asyncio.CancelledError:
            # Unanswered at the end of the grace (the caller counts it missing).
            if self.timeline is not None:
                self.timeline.append((due, None))
            raise
        except (ReplyTimeoutError, DeliveryError):
            self.missing += 1
            if self.timeline is not None:
                self.timeline.append((due, None))
            return None
        latency = time.perf_counter() - due
        self.answered(reply, latency)
        if self.timeline is not None:
            self.timeline.append((due, latency))
        return reply


async def backlog(args: argparse.Namespace) -> dict[str, Any]:
    commands = mix(args.seed)
    started = time.perf_counter()
    models: list[ThreadModel] = []
    creates: list[Command] = []
    for _ in range(args.threads):
        command, model = commands.create()
        models.append(model)
        creates.append(command)
    kinds: Counter[str] = Counter()
    async with client(args) as kafka:
        await kafka.produce(creates)
        for first in range(0, args.count, BACKLOG_CHUNK):
            chunk = []
            for _ in range(min(BACKLOG_CHUNK, args.count - first)):
                command, kind = commands.next(models[commands.rng.randrange(len(models))])
                kinds[kind] += 1
                chunk.append(command)
            await kafka.produce(chunk)
    seconds = time.perf_counter() - started
    total = args.threads + args.count
    return {
        "commands": total,
        "creates": args.threads,
        "kinds": dict(kinds),
        "seconds": seconds,
        "produced_per_s": total / seconds,
    }


async def _create_threads(
    kafka: CommandClient, commands: Mix, threads: int, timeout: float
) -> tuple[list[ThreadModel], float, Tally]:
    started = time.perf_counter()
    tally = Tally()
    created = [commands.create() for _ in range(threads)]
    await asyncio.gather(*(tally.send(kafka, c, started, timeout) for c, _ in created))
    if tally.missing:
        raise SystemExit(f"only {len(tally.latencies)} of {threads} creations answered")
    return [model for _, model in created], time.perf_counter() - started, tally


async def openloop(args: argparse.Namespace) -> dict[str, Any]:
    commands = mix(args.seed)
    async with client(args) as kafka:
        models, ready_s, creations = await _create_threads(
            kafka, commands, args.threads, args.ready_timeout
        )
        count = int(args.rate * args.seconds)
        # Built before the clock starts: the schedule must not wait for the mix's own CPU.
        # With each command the (thread, reader) to follow in the API, for the sampled posts.
        planned: list[tuple[Command, tuple[str, str] | None]] = []
        posts = 0
        for _ in range(count):
            model = models[commands.rng.randrange(len(models))]
            command, kind = commands.next(model)
            sample = None
            if kind == POST:
                posts += 1
                if args.visible_every and posts % args.visible_every == 0:
                    sample = (command.thread_id, model.admin)
            planned.append((command, sample))
        poller = None
        if args.visible_every:
            poller = VisibilityPoller(args.api_url, interval_s=args.poll_interval)
            poller.start()
        tally, lags, sent_s = await _on_schedule(kafka, planned, args, poller)
    visible = poller.close() if poller is not None else None
    result: dict[str, Any] = {
        "rate": args.rate,
        "seconds": args.seconds,
        "threads": args.threads,
        "ready_s": ready_s,
        "create_rejections": dict(creations.rejected),
        "sent": count,
        "sent_s": sent_s,
        "offered_per_s": count / sent_s if sent_s else None,
        "answered": len(tally.latencies),
        "accepted": tally.accepted,
        "rejected": dict(tally.rejected),
        "latency": latency_summary(tally.latencies, tally.missing),
        "send_lag": latency_summary(lags),
    }
    if args.timeline:
        # Due times as wall clock, so the bench can cut windows around what it did meanwhile.
        offset = time.time() - time.perf_counter()
        result["timeline"] = sorted(
            (round(due + offset, 4), None if latency is None else round(latency, 5))
            for due, latency in tally.timeline or ()
        )
    if visible is not None:
        result["visible"] = {
            **latency_summary(visible.latencies_s, visible.missing),
            "sample_every_nth_post": args.visible_every,
            "poll_interval_s": args.poll_interval,
            "polls": visible.polls,
            "errors": visible.errors,
        }
    return result


async def _on_schedule(
    kafka: CommandClient,
    planned: Sequence[tuple[Command, tuple[str, str] | None]],
    args: argparse.Namespace,
    poller: VisibilityPoller | None,
) -> tuple[Tally, list[float], float]:
    """Send `planned[i]` at t0 + i/rate; (the answers, each send's lag behind its due time,
    how long sending took). Answers later than `grace` after the last send are missing."""
    tally = Tally(timeline=[] if args.timeline else None)
    lags: list[float] = []
    pending: set[asyncio.Task[None]] = set()
    # A command may wait for its answer until the grace after the last send.
    timeout = args.seconds + args.grace

    async def one(command: Command, due: float, sample: tuple[str, str] | None) -> None:
        lags.append(time.perf_counter() - due)  # the client produces before its first await
        reply = await tally.send(kafka, command, due, timeout)
        if sample is not None and poller is not None and isinstance(reply, CommandAccepted):
            poller.submit(Sample(sample[0], reply.version, sample[1], due))

    interval = 1.0 / args.rate
    t0 = time.perf_counter() + 0.05
    i = 0
    while i < len(planned):
        now = time.perf_counter()
        due = t0 + i * interval
        if due > now:
            await asyncio.sleep(due - now)
            now = time.perf_counter()
        while i < len(planned) and t0 + i * interval <= now:
            command, sample = planned[i]
            task = asyncio.create_task(one(command, t0 + i * interval, sample))
            pending.add(task)
            task.add_done_callback(pending.discard)
            i += 1
        # Let the tasks just made produce before the next wait.
        await asyncio.sleep(0)
    sent_s = time.perf_counter() - t0
    if pending:
        _done, late = await asyncio.wait(pending, timeout=args.grace)
        for task in late:
            task.cancel()
        tally.missing += len(late)
    return tally, lags, sent_s


async def probe(args: argparse.Namespace) -> dict[str, Any]:
    factory = CommandFactory()
    async with client(args) as kafka:
        tally = Tally()
        sent_at = time.time()
        started = time.perf_counter()
        probes = []
        for index in range(args.threads):
            t = synthetic.thread(args.seed, index)
            probes.append(factory.post(t.thread_id, t.admin, "are you there?"))
        await asyncio.gather(*(tally.send(kafka, p, started, args.ready_timeout) for p in probes))
    return {
        "sent_at": sent_at,
        "complete": tally.missing == 0,
        "answered": len(tally.latencies),
        "accepted": tally.accepted,
        "rejected": dict(tally.rejected),
        "first_reply_at": tally.first_reply,
        "last_reply_at": tally.last_reply,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("backlog", "openloop", "probe"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--rate", type=float, default=1_000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--grace", type=float, default=15.0)
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--visible-every", type=int, default=0)
    parser.add_argument("--poll-interval", type=float, default=0.005)
    parser.add_argument("--api-url", default="")
    parser.add_argument("--timeline", action="store_true")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    modes = {"backlog": backlog, "openloop": openloop, "probe": probe}
    write_result(args.out, asyncio.run(modes[args.mode](args)))


if __name__ == "__main__":
    main()
