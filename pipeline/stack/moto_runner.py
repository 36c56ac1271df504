"""The moto server process of the embedded stack (`python -m pipeline.stack.moto_runner`).

moto keeps everything in memory, and the broker stores its log in moto's S3, so without help
`stack down` would lose the journal while PostgreSQL kept the read model built from it. This
runner therefore writes a snapshot of its S3 objects and DynamoDB items to disk when it is
asked to stop (SIGTERM/SIGINT: the stack stops moto last, once nothing writes to it any more)
and loads it back before it starts listening on its public port, so no client ever sees a
half-restored state. A snapshot is only taken at shutdown: copying a live broker's objects
could capture a partition's watermark ahead of its batches. A moto that is killed (SIGKILL,
power loss) loses what changed since the last clean stop.

Only the latest version of each S3 object and only tables of the given regions are kept.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger("threadweaver.moto")

SNAPSHOT_FORMAT = 1
_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "TableName")


def _client(service: str, endpoint: str, region: str) -> Any:
    import boto3  # noqa: PLC0415 - a second of import time, only needed in this process

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _table_create_args(description: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {k: description[k] for k in _TABLE_KEYS}
    billing = description.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    args["BillingMode"] = billing
    if billing == "PROVISIONED":
        throughput = description.get("ProvisionedThroughput", {})
        args["ProvisionedThroughput"] = {
            "ReadCapacityUnits": throughput.get("ReadCapacityUnits", 5),
            "WriteCapacityUnits": throughput.get("WriteCapacityUnits", 5),
        }
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = [
            {k: ix[k] for k in ("IndexName", "KeySchema", "Projection") if k in ix}
            for ix in description.get(kind, [])
        ]
        if indexes:
            args[kind] = indexes
    return args


_BYTES = "__bytes_b64__"


def _encode_bytes(value: object) -> object:
    # DynamoDB B and BS attributes come back from boto3 as bytes, which JSON cannot hold.
    if isinstance(value, bytes | bytearray):
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot store {type(value).__name__} in a snapshot")


def _decode_bytes(obj: dict[str, Any]) -> object:
    if len(obj) == 1 and _BYTES in obj:
        return base64.b64decode(obj[_BYTES])
    return obj


def _jsonl(path: Path, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    with path.open("w") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":"), default=_encode_bytes) + "\n")
            count += 1
        out.flush()
        os.fsync(out.fileno())
    return count


def save_snapshot(endpoint: str, regions: Sequence[str], target: Path) -> dict[str, int]:
    """Write the server's S3 objects and DynamoDB tables to `target` (replaced atomically)."""
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    s3 = _client("s3", endpoint, regions[0])
    buckets = []
    for bucket in s3.list_buckets().get("Buckets", []):
        location = s3.get_bucket_location(Bucket=bucket["Name"]).get("LocationConstraint")
        buckets.append({"name": bucket["Name"], "region": location or "us-east-1"})

    def objects() -> Iterator[dict[str, Any]]:
        pages = s3.get_paginator("list_objects_v2")
        for bucket in buckets:
            for page in pages.paginate(Bucket=bucket["name"]):
                for obj in page.get("Contents", []):
                    body = s3.get_object(Bucket=bucket["name"], Key=obj["Key"])["Body"].read()
                    yield {
                        "bucket": bucket["name"],
                        "key": obj["Key"],
                        "body": base64.b64encode(body).decode("ascii"),
                    }

    tables: list[dict[str, Any]] = []

    def items() -> Iterator[dict[str, Any]]:
        for region in regions:
            dynamodb = _client("dynamodb", endpoint, region)
            for name in dynamodb.get_paginator("list_tables").paginate():
                for table in name.get("TableNames", []):
                    description = dynamodb.describe_table(TableName=table)["Table"]
                    tables.append({"region": region, "create": _table_create_args(description)})
                    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
                        for item in page.get("Items", []):
                            yield {"region": region, "table": table, "item": item}

    counts = {
        "objects": _jsonl(tmp / "s3-objects.jsonl", objects()),
        "items": _jsonl(tmp / "dynamodb-items.jsonl", items()),
    }
    manifest = {
        "format": SNAPSHOT_FORMAT,
        "created_at": time.time(),
        "buckets": buckets,
        "tables": tables,
        "counts": counts,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    old = target.with_name(f"{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return counts


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open() as rows:
        for line in rows:
            if line.strip():
                yield json.loads(line, object_hook=_decode_bytes)


def _flush_items(clients: dict[str, Any], batch: list[dict[str, Any]]) -> None:
    by_region: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in batch:
        region_batch = by_region.setdefault(row["region"], {})
        region_batch.setdefault(row["table"], []).append({"PutRequest": {"Item": row["item"]}})
    for region, requests in by_region.items():
        pending: dict[str, Any] = requests
        while pending:
            pending = (
                clients[region].batch_write_item(RequestItems=pending).get("UnprocessedItems", {})
            )
    batch.clear()


def load_snapshot(endpoint: str, source: Path) -> dict[str, int]:
    manifest = json.loads((source / "manifest.json").read_text())
    if manifest.get("format") != SNAPSHOT_FORMAT:
        raise RuntimeError(f"unknown moto snapshot format in {source}: {manifest.get('format')}")
    for bucket in manifest["buckets"]:
        s3 = _client("s3", endpoint, bucket["region"])
        if bucket["region"] == "us-east-1":
            s3.create_bucket(Bucket=bucket["name"])
        else:
            s3.create_bucket(
                Bucket=bucket["name"],
                CreateBucketConfiguration={"LocationConstraint": bucket["region"]},
            )
    clients: dict[str, Any] = {}
    for table in manifest["tables"]:
        region = table["region"]
        clients.setdefault(region, _client("dynamodb", endpoint, region))
        clients[region].create_table(**table["create"])
    s3 = _client("s3", endpoint, "us-east-1")
    objects = 0
    for row in _rows(source / "s3-objects.jsonl"):
        s3.put_object(Bucket=row["bucket"], Key=row["key"], Body=base64.b64decode(row["body"]))
        objects += 1
    items = 0
    batch: list[dict[str, Any]] = []
    for row in _rows(source / "dynamodb-items.jsonl"):
        batch.append(row)
        items += 1
        if len(batch) == 25:  # BatchWriteItem's limit
            _flush_items(clients, batch)
    _flush_items(clients, batch)
    return {"objects": objects, "items": items}


def _endpoint(server: Any) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--region", action="append", dest="regions", default=[])
    args = parser.parse_args(argv)
    regions: list[str] = args.regions or ["us-east-1"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Every request at INFO would bury the log: the broker polls S3 all the time.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - heavy, child process only

    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    snapshot = Path(args.state_dir) / "snapshot"
    if (snapshot / "manifest.json").exists():
        # A private port, so the public one only opens once the state is complete.
        loader = ThreadedMotoServer(ip_address=args.host, port=0, verbose=False)
        loader.start()
        started = time.monotonic()
        try:
            counts = load_snapshot(_endpoint(loader), snapshot)
        except Exception:
            log.exception(
                "could not restore %s; move it aside to start with empty S3 and DynamoDB "
                "(the broker's topics live there)",
                snapshot,
            )
            return 1
        finally:
            loader.stop()
        log.info("restored snapshot %s: %s in %.1f s", snapshot, counts, time.monotonic() - started)

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    log.info("moto listening on %s (regions kept on stop: %s)", _endpoint(server), regions)
    stopping.wait()
    started = time.monotonic()
    try:
        counts = save_snapshot(_endpoint(server), regions, snapshot)
        log.info("saved snapshot %s: %s in %.1f s", snapshot, counts, time.monotonic() - started)
    except Exception:
        # The previous snapshot is untouched (the new one is written aside and renamed).
        log.exception("could not save the snapshot; %s keeps the previous one", snapshot)
        return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
