"""The command load generator: a process of its own, never the workers'.

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
import threading
import time
from collections import Counter
from typing import Any

from confluent_kafka import Producer

from bench import synthetic
from bench.kafka import producer_conf
from bench.mix import Mix, ThreadModel
from bench.processes import write_result
from bench.replies import ReplyListener
from bench.stats import latency_summary
from bench.visibility import Sample, VisibilityPoller
from pipeline.client.commands import CommandFactory
from pipeline.codec import encode_command
from pipeline.domain import Command
from pipeline.kafka.replies import CommandAccepted, CommandRejected, Reply
from pipeline.settings import Topics

TOPICS = Topics()


def produce(producer: Producer, command: Command) -> int:
    value = encode_command(command)
    while True:
        try:
            producer.produce(TOPICS.commands, value, key=command.thread_id.encode())
            return len(value)
        except BufferError:
            producer.poll(0.01)


class Tally:
    """Replies to the commands this process is waiting for, matched by command id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: dict[str, float] = {}
        self.latencies: list[float] = []
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.first_reply: float | None = None
        self.last_reply: float | None = None
        self.samples: dict[str, tuple[str, str]] = {}
        self.poller: VisibilityPoller | None = None
        # Set whenever nothing is waiting: after the last send, that means all answered.
        self.done = threading.Event()

    def expect(self, command_id: str, due: float) -> None:
        with self.lock:
            self.waiting[command_id] = due
            self.done.clear()

    def on_reply(self, reply: Reply, arrived: float) -> None:
        with self.lock:
            due = self.waiting.pop(reply.command_id, None)
            if due is None:
                return
            self.latencies.append(arrived - due)
            wall = time.time()
            self.first_reply = self.first_reply or wall
            self.last_reply = wall
            sample = self.samples.pop(reply.command_id, None)
            if isinstance(reply, CommandRejected):
                self.rejected[reply.reason.value] += 1
            else:
                self.accepted += 1
            if not self.waiting:
                self.done.set()
        if sample is not None and isinstance(reply, CommandAccepted) and self.poller is not None:
            self.poller.submit(Sample(sample[0], reply.version, sample[1], due))

    def wait_all(self, timeout: float) -> bool:
        return self.done.wait(timeout)

    def reset(self) -> None:
        with self.lock:
            self.latencies.clear()
            self.accepted = 0
            self.rejected.clear()


def backlog(args: argparse.Namespace) -> dict[str, Any]:
    mix = Mix(args.seed)
    # Throughput over latency: nobody waits for these records one by one.
    producer = Producer(producer_conf(args.bootstrap, "bench-backlog", **{"linger.ms": 20}))
    started = time.perf_counter()
    size = 0
    models: list[ThreadModel] = []
    for _ in range(args.threads):
        command, model = mix.create()
        models.append(model)
        size += produce(producer, command)
    kinds: Counter[str] = Counter()
    for n in range(args.count):
        command, kind = mix.next(models[mix.rng.randrange(len(models))])
        kinds[kind] += 1
        size += produce(producer, command)
        if n % 5_000 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    if remaining:
        raise SystemExit(f"{remaining} commands not acknowledged")
    seconds = time.perf_counter() - started
    total = args.threads + args.count
    return {
        "commands": total,
        "creates": args.threads,
        "kinds": dict(kinds),
        "bytes": size,
        "seconds": seconds,
        "produced_per_s": total / seconds,
    }


def _create_threads(
    producer: Producer, mix: Mix, tally: Tally, threads: int, timeout: float
) -> tuple[list[ThreadModel], float]:
    started = time.perf_counter()
    models = []
    for _ in range(threads):
        command, model = mix.create()
        models.append(model)
        tally.expect(command.command_id, time.perf_counter())
        produce(producer, command)
    producer.flush(30)
    if not tally.wait_all(timeout):
        raise SystemExit(f"only {len(tally.latencies)} of {threads} creations answered")
    return models, time.perf_counter() - started


def openloop(args: argparse.Namespace) -> dict[str, Any]:
    mix = Mix(args.seed)
    tally = Tally()
    producer = Producer(producer_conf(args.bootstrap, "bench-openloop"))
    listener = ReplyListener(args.bootstrap, TOPICS.replies, args.partitions, tally.on_reply)
    listener.start()
    models, ready_s = _create_threads(producer, mix, tally, args.threads, args.ready_timeout)
    create_rejections = dict(tally.rejected)
    tally.reset()
    count = int(args.rate * args.seconds)
    # Built before the clock starts: the schedule must not wait for the generator's own CPU.
    planned: list[tuple[str, bytes, bytes, tuple[str, str] | None]] = []
    posts = 0
    for _ in range(count):
        model = models[mix.rng.randrange(len(models))]
        command, kind = mix.next(model)
        sample = None
        if kind == "post":
            posts += 1
            if args.visible_every and posts % args.visible_every == 0:
                sample = (command.thread_id, model.admin)
        planned.append(
            (command.command_id, command.thread_id.encode(), encode_command(command), sample)
        )
    if args.visible_every:
        tally.poller = VisibilityPoller(args.api_url, interval_s=args.poll_interval)
        tally.poller.start()
    interval = 1.0 / args.rate
    lags: list[float] = []
    t0 = time.perf_counter() + 0.05
    i = 0
    while i < count:
        now = time.perf_counter()
        due = t0 + i * interval
        if due > now:
            time.sleep(due - now)
            now = time.perf_counter()
        while i < count and t0 + i * interval <= now:
            command_id, key, value, sample = planned[i]
            due = t0 + i * interval
            if sample is not None:
                tally.samples[command_id] = sample
            tally.expect(command_id, due)
            while True:
                try:
                    producer.produce(TOPICS.commands, value, key=key)
                    break
                except BufferError:
                    producer.poll(0.001)
            lags.append(time.perf_counter() - due)
            i += 1
        producer.poll(0)
    sent_s = time.perf_counter() - t0
    producer.flush(30)
    tally.wait_all(args.grace)
    listener.close()
    visible = tally.poller.close() if tally.poller is not None else None
    with tally.lock:
        missing = len(tally.waiting)
        result: dict[str, Any] = {
            "rate": args.rate,
            "seconds": args.seconds,
            "threads": args.threads,
            "ready_s": ready_s,
            "create_rejections": create_rejections,
            "sent": count,
            "sent_s": sent_s,
            "offered_per_s": count / sent_s if sent_s else None,
            "answered": len(tally.latencies),
            "accepted": tally.accepted,
            "rejected": dict(tally.rejected),
            "latency": latency_summary(tally.latencies, missing),
            "send_lag": latency_summary(lags),
        }
    if visible is not None:
        result["visible"] = {
            **latency_summary(visible.latencies_s, visible.missing),
            "sample_every_nth_post": args.visible_every,
            "poll_interval_s": args.poll_interval,
            "polls": visible.polls,
            "errors": visible.errors,
        }
    return result


def probe(args: argparse.Namespace) -> dict[str, Any]:
    tally = Tally()
    producer = Producer(producer_conf(args.bootstrap, "bench-probe"))
    listener = ReplyListener(args.bootstrap, TOPICS.replies, args.partitions, tally.on_reply)
    listener.start()
    factory = CommandFactory()
    sent_at = time.time()
    for index in range(args.threads):
        t = synthetic.thread(args.seed, index)
        command = factory.post(t.thread_id, t.admin, "are you there?")
        tally.expect(command.command_id, time.perf_counter())
        produce(producer, command)
    producer.flush(30)
    complete = tally.wait_all(args.ready_timeout)
    listener.close()
    with tally.lock:
        return {
            "sent_at": sent_at,
            "complete": complete,
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
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    modes = {"backlog": backlog, "openloop": openloop, "probe": probe}
    write_result(args.out, modes[args.mode](args))


if __name__ == "__main__":
    main()
