"""Raw broker throughput, no Threadweaver code: one producer process and one consumer process.

    python -m bench.raw_proc produce --bootstrap H:P --topic T --count N --size B --out F
    python -m bench.raw_proc consume --bootstrap H:P --topic T --partitions P --count N --out F

A consumer that gets nothing for --stall-s seconds stops and reports what it read.
The producer is configured as every Threadweaver producer is (idempotent, acks=all, murmur2
over 1,000 thread-like keys, linger 2 ms); the consumer reads every partition from the start.
Times are wall-clock (time.time()) so the bench can combine the two processes' figures.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from bench.kafka import consumer_conf, producer_conf
from bench.processes import write_result
from pipeline.client.commands import new_id

KEYS = 1_000


def produce(args: argparse.Namespace) -> dict[str, Any]:
    producer = Producer(producer_conf(args.bootstrap, "bench-raw-producer"))
    value = os.urandom(args.size)
    keys = [new_id().encode() for _ in range(KEYS)]
    started = time.time()
    for n in range(args.count):
        while True:
            try:
                producer.produce(args.topic, value, key=keys[n % KEYS])
                break
            except BufferError:
                producer.poll(0.005)
        if n % 1_000 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    finished = time.time()
    if remaining:
        raise SystemExit(f"{remaining} records not acknowledged")
    return {"started_at": started, "finished_at": finished, "count": args.count}


def consume(args: argparse.Namespace) -> dict[str, Any]:
    consumer = Consumer(consumer_conf(args.bootstrap, f"bench-raw-{uuid.uuid4()}"))
    consumer.assign(
        [TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in range(args.partitions)]
    )
    seen = size = 0
    first: float | None = None
    last_progress = time.time()
    while seen < args.count and time.time() - last_progress < args.stall_s:
        batch = consumer.consume(1, 0.5)
        if batch:
            batch += consumer.consume(9_999, 0)
            last_progress = time.time()
        for message in batch:
            if message.error() is None:
                seen += 1
                size += len(message.value() or b"")
        if seen and first is None:
            first = time.time()
    # A broker that stops serving a partition must not cost the whole bench: report what was
    # read (and when the last of it came) rather than nothing.
    stalled = seen < args.count
    finished = last_progress if stalled else time.time()
    consumer.close()
    return {
        "first_at": first,
        "finished_at": finished,
        "count": seen,
        "wanted": args.count,
        "stalled": stalled,
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("produce", "consume"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--stall-s", type=float, default=30.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    write_result(args.out, produce(args) if args.mode == "produce" else consume(args))


if __name__ == "__main__":
    main()
