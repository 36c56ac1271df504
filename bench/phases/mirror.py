"""Phase 4b, the journal mirror: `threadweaver mirror` (its default settings) copies the
journal from offset 0 into the stack's DynamoDB server (moto); its own counter of items
written is read every second and the rate taken over a steady window. The limit is the same
server's raw BatchWriteItem rate (bench/dynamo_raw_proc.py)."""

from __future__ import annotations

import math
import time
from typing import Any

from bench.context import Context
from bench.processes import finish_child, flags, start_child
from bench.report import Figure, Limit
from bench.scrape import total as metric_total
from bench.stats import window_rate
from pipeline.stack.ports import free_port

PHASE = "4 mirror"
ITEMS = "threadweaver_mirror_items_written_total"
RAW_PROCESSES, RAW_THREADS = 2, 4


def _raw_batch_write(ctx: Context, seconds: float) -> dict[str, Any]:
    system = ctx.system
    children = [
        start_child(
            system.launcher,
            "bench.dynamo_raw_proc",
            [
                *flags(
                    endpoint=system.endpoints.dynamodb_endpoint,
                    region=system.endpoints.aws_region,
                    table="bench-raw-writes",
                    threads=RAW_THREADS,
                    seconds=seconds,
                    seed=str(ctx.next_seed() * 100 + n),
                ),
            ],
            name="dynamo-raw",
        )
        for n in range(RAW_PROCESSES)
    ]
    results = [finish_child(child, timeout=seconds + 600) for child in children]
    return {
        "processes": results,
        "items_per_s": sum(r["items_per_s"] for r in results),
        "item_bytes": results[0]["item_bytes"],
    }


def run(ctx: Context) -> None:
    system, config = ctx.system, ctx.config
    journal = system.records(system.settings.topics.events)
    port = free_port()
    mirror = system.launcher.mirror(metrics_port=port).start()
    series: list[tuple[float, float]] = []
    t0 = time.monotonic()
    first: float | None = None
    try:
        while True:
            time.sleep(1.0)
            now = time.monotonic() - t0
            written = metric_total(port, ITEMS) or 0.0
            series.append((now, written))
            if not mirror.alive():
                raise RuntimeError(f"the mirror died:\n{mirror.log_tail()}")
            if written > 0 and first is None:
                first = now
            if written >= 0.98 * journal:
                break
            if first is not None and now >= first + config.warmup_seconds + config.mirror_seconds:
                break
            if first is None and now > 300:
                raise RuntimeError(f"the mirror wrote nothing in 300 s:\n{mirror.log_tail()}")
    finally:
        mirror.stop()
    assert first is not None
    rate, window, items = window_rate(series, first + config.warmup_seconds, series[-1][0])
    if math.isnan(rate):  # the whole journal fit in the warm-up: take all of it
        rate, window, items = window_rate(series, first, series[-1][0])
    raw = _raw_batch_write(ctx, config.seconds(30, 5))
    ctx.report.details["mirror"] = {
        "journal_records": journal,
        "series": series,
        "raw_batch_write": raw,
    }
    ctx.report.add(
        Figure(
            key="mirror.items",
            phase=PHASE,
            name="journal items/s into DynamoDB (moto server), `threadweaver mirror`",
            value=rate,
            unit="items/s",
            method="growth of threadweaver_mirror_items_written_total over the steady window "
            "(after warm-up) while mirroring the journal from offset 0; default mirror "
            "settings (batch write method, 4 requests in flight)",
            parameters={
                "item_bytes": raw["item_bytes"],
                "window_s": round(window, 1),
                "items_in_window": items,
                "journal_records": journal,
            },
            limit=Limit(
                "raw BatchWriteItem, same server",
                float(raw["items_per_s"]),
                "items/s",
                f"{RAW_PROCESSES} processes x {RAW_THREADS} threads, boto3, 25 mirror items "
                f"(~{raw['item_bytes']} B) per request, unprocessed items re-sent",
            ),
        )
    )
