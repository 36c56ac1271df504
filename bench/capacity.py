"""The arithmetic of docs/capacity.md, from bench/results/latest.json.

    python -m bench.capacity [--results bench/results/latest.json] [--write docs/capacity.md]

Prints the inputs table and the sizing table for 10k and 100k commands/s; with --write,
replaces what lies between the `capacity:begin` / `capacity:end` markers of the document,
so that refreshing the plan after a new bench run is one command. The formulas are stated in
the document; the assumptions (not measured) are the constants below.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import ROOT
from bench.phases.raw_broker import typical_sizes

# Assumptions: not measured by the bench; each is named in the document's inputs table.
HEADROOM = 0.6  # plan every component at 60 % of its measured capacity
READS_PER_COMMAND = 2.0  # GETs per accepted command (half thread, half messages queries)
REPLICATION = 3  # k8s/base/topics.yaml
TOPICS = 5  # commands, events, replies, commands DLQ, events conflicts: one partition count
BROKER_MB_S = 50.0  # replicated produce MB/s one Kafka broker is planned for (to verify)
ITEM_KB = 1.0  # DynamoDB write unit size
TABLE_WCU_QUOTA = 40_000  # DynamoDB on-demand default per table (adjustable)
TARGETS = (10_000, 100_000)
RUNTIME = "faust"  # what k8s/base/worker.yaml deploys


@dataclass(frozen=True, slots=True)
class Inputs:
    worker: float  # accepted commands/s per worker process (2-worker run / 2)
    worker_alone: float  # the 1-worker run
    events_per_command: float
    command_bytes: float
    event_bytes: float
    reply_bytes: float
    projector: float  # events/s per projector process
    postgres_copy: float  # events/s the bench's PostgreSQL takes by COPY
    mirror: float  # items/s per mirror process (moto)
    dynamo_raw: float  # raw BatchWriteItem items/s (moto)
    item_bytes: float
    api: float  # GET/s per API process (mean of the thread and messages queries)
    sql: float  # the same statements straight on PostgreSQL, queries/s
    fold: float  # events/s a fresh worker folds while recovering
    run: str

    @classmethod
    def from_results(cls, results: dict[str, Any]) -> Inputs:
        figures = {f["key"]: f for f in results["figures"]}

        def value(key: str) -> float:
            figure = figures.get(key)
            return float(figure["value"]) if figure and figure["value"] is not None else math.nan

        def limit(key: str) -> float:
            figure = figures.get(key)
            return float(figure["limit"]["value"]) if figure and figure["limit"] else math.nan

        def parameter(key: str, name: str) -> float:
            figure = figures.get(key)
            found = figure["parameters"].get(name) if figure else None
            return float(found) if found is not None else math.nan

        two = f"command.capacity.{RUNTIME}.2"
        accepted = value(two)
        events = parameter(two, "journal_events_per_s")
        raw = results["details"].get("raw", {})
        return cls(
            worker=accepted / 2,
            worker_alone=value(f"command.capacity.{RUNTIME}.1"),
            events_per_command=events / accepted if accepted and events else 1.0,
            command_bytes=parameter("raw.command", "record_bytes"),
            event_bytes=parameter("raw.event", "record_bytes"),
            # Runs before the reply size was recorded: measure it now, the same way.
            reply_bytes=float(raw.get("reply_bytes") or typical_sizes()[2]),
            projector=value("projector.rebuild"),
            postgres_copy=limit("projector.rebuild"),
            mirror=value("mirror.items"),
            dynamo_raw=limit("mirror.items"),
            item_bytes=float(
                results["details"].get("mirror", {}).get("raw_batch_write", {}).get("item_bytes")
                or math.nan
            ),
            api=(value("api.thread.rate") + value("api.messages.rate")) / 2,
            sql=(limit("api.thread.rate") + limit("api.messages.rate")) / 2,
            fold=parameter(f"recovery.{RUNTIME}", "events_per_s"),
            run=f"{results['started_at']}, scale {results['config'].get('scale')}, "
            f"commit {str(results['machine'].get('git_commit'))[:10]}",
        )


def _n(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f}"


def inputs_table(i: Inputs) -> str:
    rows = [
        ("W", "accepted commands/s per worker process (2-worker run / 2)", _n(i.worker),
         f"`command.capacity.{RUNTIME}.2` / 2"),
        ("W₁", "accepted commands/s, one worker alone", _n(i.worker_alone),
         f"`command.capacity.{RUNTIME}.1`"),
        ("e", "journal events per accepted command", f"{i.events_per_command:.2f}",
         f"`command.capacity.{RUNTIME}.2` journal_events_per_s / value"),
        ("b_c, b_e, b_r", "bytes of a command, an event, a reply",
         f"{_n(i.command_bytes)}, {_n(i.event_bytes)}, {_n(i.reply_bytes)}",
         "`raw.command`, `raw.event` record_bytes; details.raw.reply_bytes"),
        ("J", "events/s per projector process", _n(i.projector), "`projector.rebuild`"),
        ("G", "events/s the bench's PostgreSQL takes by COPY (same rows)", _n(i.postgres_copy),
         "`projector.rebuild` limit"),
        ("M", "items/s per mirror process (against moto)", _n(i.mirror), "`mirror.items`"),
        ("M_raw", "raw BatchWriteItem items/s of moto", _n(i.dynamo_raw), "`mirror.items` limit"),
        ("s", "bytes of a DynamoDB item", _n(i.item_bytes), "`mirror.items` item_bytes"),
        ("Q", "GET/s per API process (thread and messages queries, mean)", _n(i.api),
         "`api.thread.rate`, `api.messages.rate`"),
        ("Q_sql", "the same statements on PostgreSQL, queries/s", _n(i.sql),
         "their limits"),
        ("F", "events/s a fresh worker folds (recovery)", _n(i.fold), f"`recovery.{RUNTIME}`"),
        ("h", "headroom: plan at this share of measured capacity", f"{HEADROOM:.0%}",
         "assumption"),
        ("r", "GETs per accepted command", f"{READS_PER_COMMAND:g}", "assumption"),
        ("RF", "Kafka replication factor", str(REPLICATION), "k8s/base/topics.yaml"),
        ("B", "replicated produce MB/s planned per Kafka broker", f"{BROKER_MB_S:g}",
         "assumption, to verify on the cluster"),
    ]  # fmt: skip
    lines = [
        f"Measured: {i.run}.",
        "",
        "| Symbol | Input | Value | From |",
        "|---|---|---:|---|",
    ]
    lines += [f"| {s} | {what} | {v} | {source} |" for s, what, v, source in rows]
    return "\n".join(lines)


def sizing(i: Inputs, t: float, partitions: int) -> dict[str, str]:
    events = t * i.events_per_command
    workers = math.ceil(t / (HEADROOM * i.worker))
    produce_mb = t * (i.command_bytes + i.event_bytes + i.reply_bytes) / 1e6
    replicated = produce_mb * REPLICATION
    brokers = max(3, math.ceil(replicated / BROKER_MB_S))
    replicas = TOPICS * partitions * REPLICATION / brokers
    wcu = events * math.ceil(i.item_bytes / (ITEM_KB * 1024))
    over_quota = " (over the 40k table quota)" if wcu > TABLE_WCU_QUOTA else ""
    day_gb = events * i.event_bytes * 86_400 * REPLICATION / 1e9
    mirrors = math.ceil(events / (HEADROOM * i.mirror))
    projectors = min(partitions, math.ceil(events / (HEADROOM * i.projector)))
    pg_writes = events / (HEADROOM * i.postgres_copy)
    apis = math.ceil(READS_PER_COMMAND * t / (HEADROOM * i.api))
    pg_reads = READS_PER_COMMAND * t / (HEADROOM * i.sql)
    per_partition_day = events * 86_400 / partitions
    rebuild_min = per_partition_day / i.fold / 60
    return {
        "worker pods: N_w = ⌈T / (h·W)⌉": f"{workers}",
        "partitions per topic: P ≥ N_w(100k), multiple of 12": f"{partitions}",
        "commands/s per partition: T / P (≤ h·W)": f"{t / partitions:,.0f}",
        "Kafka records/s produced: 3T": f"{3 * t:,.0f}",
        "Kafka produce MB/s: T·(b_c+b_e+b_r)": f"{produce_mb:,.1f}",
        "replicated write MB/s: that · RF": f"{replicated:,.1f}",
        "brokers: max(3, ⌈replicated / B⌉)": f"{brokers}",
        "partition replicas per broker: 5·P·RF / brokers": f"{replicas:,.0f}",
        "journal growth GB/day: e·T·b_e·86,400·RF": f"{day_gb:,.0f}",
        "DynamoDB write units/s: e·T·⌈s / 1 KB⌉": f"{wcu:,.0f}{over_quota}",
        "DynamoDB read units/s: e·T (batch method reads first)": f"{events:,.0f}",
        "mirror pods: ⌈e·T / (h·M)⌉ (M measured on moto)": f"{mirrors}",
        "projector pods: min(P, ⌈e·T / (h·J)⌉)": f"{projectors}",
        "PostgreSQL writes, in bench servers: e·T / (h·G)": f"{pg_writes:,.1f}",
        "API pods: ⌈r·T / (h·Q)⌉": f"{apis}",
        "PostgreSQL reads, in bench servers: r·T / (h·Q_sql)": f"{pg_reads:,.1f}",
        "journal events per partition per day: e·T·86,400 / P": f"{per_partition_day:,.0f}",
        "fresh rebuild of one day of one partition: that / F": (
            "n/a" if math.isnan(rebuild_min) else f"{rebuild_min:,.0f} min"
        ),
    }


def partitions_for(i: Inputs) -> int:
    """Enough for the largest target (partitions cannot be added later: a thread would move),
    rounded up to a multiple of 12 so that 1, 2, 3, 4, 6 or 12 pods share them evenly."""
    needed = math.ceil(max(TARGETS) / (HEADROOM * i.worker))
    return max(12, 12 * math.ceil(needed / 12))


def sizing_table(i: Inputs) -> str:
    partitions = partitions_for(i)
    columns = {t: sizing(i, t, partitions) for t in TARGETS}
    lines = [
        "| Quantity | " + " | ".join(f"{t:,} cmd/s" for t in TARGETS) + " |",
        "|---|" + "---:|" * len(TARGETS),
    ]
    for name in columns[TARGETS[0]]:
        lines.append(f"| {name} | " + " | ".join(columns[t][name] for t in TARGETS) + " |")
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    i = Inputs.from_results(results)
    return "\n".join(
        [
            "<!-- capacity:begin (generated by `python -m bench.capacity --write`) -->",
            "### Inputs",
            "",
            inputs_table(i),
            "",
            "### Sizing",
            "",
            sizing_table(i),
            "<!-- capacity:end -->",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--results", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--write", help="the document whose generated part to replace")
    args = parser.parse_args()
    text = render(json.loads(Path(args.results).read_text()))
    if not args.write:
        print(text)
        return
    doc = Path(args.write)
    pattern = re.compile(r"<!-- capacity:begin.*?<!-- capacity:end -->", re.DOTALL)
    old = doc.read_text()
    if not pattern.search(old):
        raise SystemExit(f"{doc} has no capacity:begin / capacity:end markers")
    doc.write_text(pattern.sub(lambda _m: text, old))


if __name__ == "__main__":
    main()
