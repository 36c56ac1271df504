"""Phase 4a, the projector: `threadweaver projector rebuild` replays the whole journal (what
phases 2 wrote, topped up with a synthetic journal to at least `projector_events`) into an
emptied read model; the rate is journal records / wall time of the command."""

from __future__ import annotations

import json
import time
from typing import Any

from bench import targets
from bench.context import Context
from bench.journal_topup import write_journal
from bench.processes import flags, run_child
from bench.report import Figure, Limit

PHASE = "4 projector"
TOPUP_EVENTS_PER_THREAD = 200


def _rebuild_summary(log: str) -> dict[str, Any]:
    """The JSON line `projector rebuild` prints on stdout (the log holds stderr too)."""
    for line in reversed(log.splitlines()):
        if line.startswith("{") and '"records"' in line:
            summary: dict[str, Any] = json.loads(line)
            return summary
    raise RuntimeError(f"no summary in the rebuild's output:\n{log[-2000:]}")


def run(ctx: Context) -> None:
    system, config = ctx.system, ctx.config
    topic = system.settings.topics.events
    before = system.records(topic)
    topup: dict[str, Any] | None = None
    if before < config.projector_events:
        threads = -(-(config.projector_events - before) // TOPUP_EVENTS_PER_THREAD)
        topup = write_journal(
            system,
            system.bootstrap,
            topic,
            seed=ctx.next_seed(),
            threads=threads,
            events_per_thread=TOPUP_EVENTS_PER_THREAD,
        )
    journal = system.records(topic)
    system.stop_projector()  # a rebuild refuses to run beside a projector
    rebuild = system.launcher.projector("projector-rebuild", args=["rebuild", "--yes", "--quiet"])
    started = time.perf_counter()
    code = rebuild.start().wait(3600)
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"projector rebuild exited with {code}:\n{rebuild.log_tail()}")
    summary = _rebuild_summary(rebuild.run_log().decode(errors="replace"))
    records = int(summary["records"])
    rate = records / seconds
    raw = run_child(
        system.launcher,
        "bench.pg_raw_proc",
        [
            *flags(
                bootstrap=system.bootstrap,
                partitions=config.partitions,
                dsn=system.endpoints.pg_dsn,
                events=str(min(records, config.projector_events)),
            ),
        ],
        timeout=1800,
    )
    ctx.report.details["projector"] = {
        "journal_before_topup": before,
        "topup": topup,
        "journal_records": journal,
        "rebuild_seconds": seconds,
        "rebuild_summary": summary,
        "raw_postgres": raw,
    }
    in_batches = float(summary.get("seconds_in_batches") or 0)
    ctx.report.add(
        Figure(
            key="projector.rebuild",
            phase=PHASE,
            name=f"events/s into PostgreSQL, replaying {records:,} journal records from offset 0",
            value=rate,
            unit="events/s",
            note=f"{records / in_batches:,.0f}/s inside batches" if in_batches else "",
            method="`threadweaver projector rebuild --yes` (a process of its own) over the whole "
            "journal: journal records / wall time of the command, process start included",
            parameters={
                "records": records,
                "seconds": round(seconds, 2),
                "outcomes": summary.get("outcomes"),
                "seconds_in_batches": in_batches,
                "synthetic_topup_events": topup["events"] if topup else 0,
            },
            limit=Limit(
                "PostgreSQL COPY of the same rows",
                float(raw["events_per_s"]),
                "events/s",
                "bench/pg_raw_proc.py: the rows the first "
                f"{raw['events']:,} events add, COPYed into same-indexed copies of the tables, "
                "2,000 events per transaction",
            ),
            target=targets.PROJECTOR,
        )
    )
