"""A process that writes a synthetic journal (bench/synthetic.py) to a broker.

python -m bench.journal_proc --bootstrap H:P --topic T --seed S --first 0 --count 500
    --events-per-thread 1000 --out result.json
"""

from __future__ import annotations

import argparse
import time

from confluent_kafka import Producer

from bench.processes import write_result
from bench.synthetic import interleaved
from pipeline.codec import encode_event
from pipeline.kafka.config import producer_config
from pipeline.kafka.security import KafkaConnection


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--events-per-thread", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    # Batches of the size a busy worker appends (linger 5 ms), not one huge batch per flush.
    connection = KafkaConnection.plaintext(args.bootstrap)
    producer = Producer(producer_config(connection, "bench-journal-writer", **{"linger.ms": 5}))
    started = time.perf_counter()
    events = size = 0
    for event in interleaved(args.seed, args.first, args.count, args.events_per_thread):
        value = encode_event(event)
        while True:
            try:
                producer.produce(args.topic, value, key=event.thread_id.encode())
                break
            except BufferError:
                producer.poll(0.05)
        events += 1
        size += len(value)
        if events % 5_000 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    if remaining:
        raise SystemExit(f"{remaining} journal records not acknowledged")
    write_result(
        args.out,
        {"events": events, "bytes": size, "seconds": time.perf_counter() - started},
    )


if __name__ == "__main__":
    main()
