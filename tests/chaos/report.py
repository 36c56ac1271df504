"""The run's report: the fault schedule and the invariant results as rich tables on the
terminal, and the same as JSON (for docs/guarantees.md to quote)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.chaos.checks import SHOWN, Check
from tests.chaos.faults import FaultEvent


def fault_table(events: Sequence[FaultEvent]) -> Table:
    table = Table(title="fault schedule", show_lines=False)
    for column in ("t (s)", "process", "action", "pid", "acknowledged", "under load", "detail"):
        table.add_column(column)
    for e in events:
        table.add_row(
            f"{e.at_s:7.2f}",
            e.process,
            e.action,
            "" if e.pid is None else str(e.pid),
            str(e.acknowledged),
            "yes" if e.under_load else "no",
            e.detail.splitlines()[-1][:80] if e.detail else "",
        )
    return table


def check_table(checks: Sequence[Check]) -> Table:
    table = Table(title="invariants", show_lines=True)
    table.add_column("check")
    table.add_column("result")
    table.add_column("figures")
    table.add_column("first problems")
    for check in checks:
        table.add_row(
            check.name,
            "[green]PASS[/green]" if check.ok else "[red]FAIL[/red]",
            "\n".join(f"{k}: {v}" for k, v in check.figures.items()),
            "\n".join(p[:160] for p in check.problems[:SHOWN]),
        )
    return table


def print_report(
    summary: dict[str, object], events: Sequence[FaultEvent], checks: Sequence[Check]
) -> None:
    # Wide enough that pytest's captured output keeps whole rows.
    console = Console(width=200, force_terminal=False, color_system=None)
    console.print(fault_table(events))
    console.print(check_table(checks))
    console.print(json.dumps(summary, indent=2, default=str))


def write_report(
    path: Path,
    summary: dict[str, object],
    events: Sequence[FaultEvent],
    checks: Sequence[Check],
) -> None:
    document = {
        **summary,
        "faults": [e.as_json() for e in events],
        "invariants": [c.as_json() for c in checks],
        "passed": all(c.ok for c in checks),
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
