"""What restoring one thread from its snapshot costs, part by part, on the recovery phase's
synthetic threads (bench/synthetic.py):

    .venv/bin/python -m bench.restore_cost [--threads 40] [--events 5000]

Folds `threads` synthetic threads of `events` events each with the domain's `evolve`, encodes
their snapshots, then times per thread what a worker taking a partition over does with them:
`last_round` (Avro decoding and building the states), `ThreadStore.restore` (writing their
snapshot records into RocksDB as they are) and `ThreadStore.get` (what reading one back would
cost: the worker keeps the restored states in memory, so its first commands do not).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench import synthetic
from pipeline.codec import encode_snapshot, load_schemas
from pipeline.codec.snapshot import ThreadSnapshot
from pipeline.domain import Thread, evolve
from pipeline.kafka.records import Record
from pipeline.worker.snapshots import last_round
from pipeline.worker.store import ThreadStore

POSITION = 10**9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=40)
    parser.add_argument("--events", type=int, default=5_000)
    args = parser.parse_args()
    states: dict[str, Thread] = {}
    for index in range(args.threads):
        synthetic_thread = synthetic.thread(7, index)
        state = None
        for seq in range(1, args.events + 1):
            state = evolve(state, synthetic.event(synthetic_thread, seq))
        assert isinstance(state, Thread)
        states[state.thread_id] = state
    records = [
        Record("snapshots", 0, offset, thread_id.encode(), encode_snapshot(snapshot))
        for offset, (thread_id, snapshot) in enumerate(
            (t, ThreadSnapshot(t, 0, POSITION, s)) for t, s in states.items()
        )
    ]
    load_schemas()  # parsing the schemas is once per process, not a restore's cost
    started = time.perf_counter()
    restored = last_round(records, 0, POSITION)
    decoded = time.perf_counter()
    assert restored is not None
    with tempfile.TemporaryDirectory() as folder:
        store = ThreadStore(Path(folder))
        store.restore(0, restored.frames, POSITION)
        committed = time.perf_counter()
        for thread_id in states:
            store.get(0, thread_id)
        read = time.perf_counter()
        store.close()
    per_thread = {
        "snapshot_bytes": sum(len(r.value) for r in records) / args.threads,
        "live_messages": sum(len(s.messages) for s in states.values()) / args.threads,
        "decode_ms": (decoded - started) * 1000 / args.threads,
        "store_restore_ms": (committed - decoded) * 1000 / args.threads,
        "store_get_ms": (read - committed) * 1000 / args.threads,
    }
    print(json.dumps({"threads": args.threads, "events": args.events, **per_thread}, indent=2))


if __name__ == "__main__":
    main()
