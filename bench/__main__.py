"""`python -m bench` (`make bench`): every phase in one run on a fresh embedded stack."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable

from bench import chart, table
from bench.config import BenchConfig
from bench.context import Context
from bench.machine import machine_info
from bench.phases import (
    command_side,
    end_to_end,
    mirror,
    projector,
    query_api,
    raw_broker,
    recovery,
)
from bench.report import Report, now_iso
from bench.system import System

# In this order: the projector replays what the command side wrote, the end-to-end phase
# starts from the projector the rebuild left caught up, the API phase reads what it wrote.
PHASES: tuple[tuple[str, Callable[[Context], None]], ...] = (
    ("raw", raw_broker.run),
    ("command", command_side.run),
    ("projector", projector.run),
    ("mirror", mirror.run),
    ("e2e", end_to_end.run),
    ("api", query_api.run),
    ("recovery", recovery.run),
)


def say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} bench: {message}", flush=True)


def main() -> int:
    config = BenchConfig.from_env()
    report = Report(machine=machine_info(), config=config.as_dict())
    results = config.results_dir
    say(f"scale {config.scale}, phases {', '.join(config.phases)}, results in {results}")
    started = time.monotonic()
    system = System.start(config)
    say(f"embedded stack up in {system.root} (kafka {system.bootstrap})")
    ctx = Context(config, system, report)
    try:
        for name, phase in PHASES:
            if name not in config.phases:
                continue
            say(f"phase {name}")
            phase_started = time.monotonic()
            # Other work on the machine shows here: a phase run at a high load is suspect.
            load = {"at_start": [round(x, 2) for x in os.getloadavg()]}
            try:
                phase(ctx)
            except Exception as exc:
                report.errors.append(f"{name}: {exc}")
                traceback.print_exc()
                system.stop_workers()
            report.details.setdefault("phase_seconds", {})[name] = round(
                time.monotonic() - phase_started, 1
            )
            load["at_end"] = [round(x, 2) for x in os.getloadavg()]
            report.details.setdefault("load_average", {})[name] = load
            say(f"phase {name} done in {time.monotonic() - phase_started:.0f} s")
            report.write_json(results / "partial.json")
    finally:
        system.stop()
        say(
            "embedded stack stopped" + (f"; data kept in {system.root}" if config.keep_data else "")
        )
    report.finished_at = now_iso()
    report.details["total_seconds"] = round(time.monotonic() - started, 1)
    latest = results / "latest.json"
    if set(config.phases) != {name for name, _ in PHASES} and latest.exists():
        # A run of some phases updates their figures; the others stay as last measured.
        carried = report.carry_over(json.loads(latest.read_text()))
        report.details["carried_over"] = carried
        say(f"kept {len(carried)} figures of phases not run now")
    report.write_json(latest)
    (results / "latest.md").write_text(table.render(report))
    chart.render(report, results / "latest.png")
    (results / "partial.json").unlink(missing_ok=True)
    print(table.render(report))
    say(f"done in {time.monotonic() - started:.0f} s: {results}/latest.{{json,md,png}}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
