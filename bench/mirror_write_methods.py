"""Measure the journal mirror's write methods against a DynamoDB-API server (docs/adr/0005).

    .venv/bin/python bench/mirror_write_methods.py [--endpoint URL] [--events N]

Without --endpoint it starts moto's server (as the embedded stack does) on a free port. For
each write method and concurrency it mirrors N fresh events through the real BatchMirror
(decode, look up, plan, write; dead letters discarded), in batches of 1,000, then the same
events again (a restart that re-reads uncommitted records: everything is a duplicate).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.codec import encode_event  # noqa: E402
from pipeline.domain import AddedMessage, Event, MessagesAdded, ThreadCreated  # noqa: E402
from pipeline.domain.ids import ulid_from_parts  # noqa: E402
from pipeline.kafka.records import Record  # noqa: E402
from pipeline.mirror.aws import dynamodb_client  # noqa: E402
from pipeline.mirror.batch import BatchMirror  # noqa: E402
from pipeline.mirror.writer import DynamoWriter, RetryPolicy  # noqa: E402
from pipeline.settings import Settings, WriteMethod  # noqa: E402
from pipeline.stack import dynamodb_server  # noqa: E402
from pipeline.stack.dynamodb import ensure_table_with, load_definition  # noqa: E402
from pipeline.stack.layout import Layout  # noqa: E402
from pipeline.stack.process import spawn, stop  # noqa: E402

T0 = datetime(2026, 11, 22, tzinfo=UTC)
BATCH = 1_000


class Discard:
    def send(self, record: Record, headers: list[tuple[str, bytes]]) -> None:
        pass

    def flush(self, timeout: float = 30.0) -> None:
        pass


def ulid(n: int) -> str:
    return ulid_from_parts(1_700_000_000_000, n)


def journal(events: int, run: int) -> list[Record]:
    """Threads of 20 events: a creation, then messages of 1-3 short texts (~250-400 bytes)."""
    records = []
    for i in range(events):
        thread, seq = ulid(run * 10**8 + i // 20), i % 20 + 1
        body: ThreadCreated | MessagesAdded
        if seq == 1:
            body = ThreadCreated(ulid(1), "lunch", (ulid(1),), (ulid(2), ulid(3)))
        else:
            body = MessagesAdded(
                tuple(
                    AddedMessage(ulid(10**9 + i * 3 + k), "see you at noon " * 4, None, ())
                    for k in range(1 + i % 3)
                )
            )
        event = Event(
            ulid(2 * 10**9 + i),
            thread,
            seq,
            T0 + timedelta(seconds=i),
            ulid(3 * 10**9 + i),
            i,
            ulid(1),
            body,
        )
        records.append(
            Record("threadweaver.thread-events", 0, i, thread.encode(), encode_event(event))
        )
    return records


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(endpoint: str, events: int, concurrencies: list[int]) -> None:
    settings = Settings(dynamodb_endpoint=endpoint, dynamodb_table="bench-journal")
    client = dynamodb_client(settings, pool=max(concurrencies) + 2)
    definition = load_definition(ROOT / "schemas/dynamodb/journal-table.json", "bench-journal")
    ensure_table_with(client, definition)
    run_number = 0
    print(f"{'method':<12} {'in flight':>9} {'new events/s':>13} {'replayed/s':>11}")
    for method in WriteMethod:
        for concurrency in concurrencies:
            run_number += 1
            records = journal(events, run_number)
            writer = DynamoWriter(client, settings.dynamodb_table, RetryPolicy(), concurrency)
            mirror = BatchMirror(writer, Discard(), method, retry_deadline_s=300)
            rates = []
            for _ in ("fresh", "replay"):
                started = time.perf_counter()
                for i in range(0, len(records), BATCH):
                    mirror.process(records[i : i + BATCH])
                rates.append(len(records) / (time.perf_counter() - started))
            writer.close()
            print(f"{method.value:<12} {concurrency:>9} {rates[0]:>13.0f} {rates[1]:>11.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoint")
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, action="append", default=[])
    args = parser.parse_args()
    concurrencies = args.concurrency or [1, 2, 4, 8]
    if args.endpoint:
        run(args.endpoint, args.events, concurrencies)
        return 0
    port = free_port()
    with tempfile.TemporaryDirectory() as state:
        # The embedded stack's own DynamoDB server, as `stack up` starts it.
        dynamodb_server.ensure_installed()
        layout = Layout.of(state)
        record = spawn(dynamodb_server.spec(layout, port, "eu-west-1"), layout.run)
        try:
            endpoint = dynamodb_server.endpoint_url(port)
            dynamodb_server.wait_ready(endpoint, "eu-west-1", 30.0, record)
            run(endpoint, args.events, concurrencies)
        finally:
            stop(record, layout.run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
