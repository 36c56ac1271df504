"""The mirror's limit: raw BatchWriteItem throughput of the DynamoDB server (boto3).

    python -m bench.dynamo_raw_proc --endpoint URL --region R --table T --threads 4
        --seconds S --seed N --out F

Items are the mirror's own (pipeline.mirror.items.to_item of synthetic events, ~the journal's
sizes), 25 per request (the API's maximum), written by several threads sharing one client
until the time is up; unprocessed items are sent again and only acknowledged items count.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

import boto3
from botocore.config import Config

from bench.config import ROOT
from bench.processes import write_result
from bench.synthetic import interleaved
from pipeline.codec import encode_event
from pipeline.mirror.items import Item, item_size, to_item

BATCH = 25
DISTINCT_ITEMS = 20_000


def ensure_table(client: Any, table: str) -> None:
    definition = json.loads((ROOT / "schemas/dynamodb/journal-table.json").read_text())
    definition["TableName"] = table
    try:
        client.create_table(**definition)
    except client.exceptions.ResourceInUseException:
        return
    client.get_waiter("table_exists").wait(
        TableName=table, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )


def writer(
    client: Any, table: str, items: list[Item], *, offset: int, until: float, counts: list[int]
) -> None:
    n = offset
    written = 0
    while time.perf_counter() < until:
        chunk = [items[(n + k) % len(items)] for k in range(BATCH)]
        n += BATCH
        requests = [{"PutRequest": {"Item": item}} for item in chunk]
        while requests:
            answer = client.batch_write_item(RequestItems={table: requests})
            left = answer.get("UnprocessedItems", {}).get(table, [])
            written += len(requests) - len(left)
            requests = left
    counts.append(written)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    client = boto3.client(
        "dynamodb",
        endpoint_url=args.endpoint,
        region_name=args.region,
        config=Config(max_pool_connections=args.threads + 2, retries={"mode": "standard"}),
    )
    ensure_table(client, args.table)
    items = [
        to_item(event, encode_event(event), 0, n)
        for n, event in enumerate(interleaved(args.seed, 0, DISTINCT_ITEMS // 20, 20))
    ]
    counts: list[int] = []
    started = time.perf_counter()
    until = started + args.seconds
    threads = [
        threading.Thread(
            target=writer,
            args=(client, args.table, items),
            kwargs={"offset": i * 997, "until": until, "counts": counts},
            daemon=True,
        )
        for i in range(args.threads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    item_bytes = sum(item_size(i) for i in items) / len(items)
    write_result(
        args.out,
        {
            "items": sum(counts),
            "seconds": seconds,
            "items_per_s": sum(counts) / seconds,
            "threads": args.threads,
            "item_bytes": round(item_bytes),
        },
    )


if __name__ == "__main__":
    main()
