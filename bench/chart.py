"""latest.png: throughput against its limit, latency percentiles, and the capacity runs over
time (to see that the measured window was steady)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a build machine

import matplotlib.pyplot as plt

from bench.report import Report

RATE_UNITS = {"records/s", "cmd/s", "events/s", "items/s", "GET/s"}


def _throughput(ax: Any, report: Report) -> None:
    figures = [f for f in report.figures if f.unit in RATE_UNITS and f.value is not None]
    if not figures:  # a run of phases without rates: a log axis of nothing cannot be drawn
        ax.set_title("Throughput vs. its limit (none measured)")
        return
    names = [f.key for f in figures]
    ys = range(len(figures))
    ax.barh([y + 0.2 for y in ys], [f.value for f in figures], height=0.4, label="measured")
    ax.barh(
        [y - 0.2 for y in ys],
        [f.limit.value if f.limit else 0 for f in figures],
        height=0.4,
        label="limit",
        color="lightgray",
    )
    ax.set_yticks(list(ys), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("per second (log)")
    ax.set_title("Throughput vs. its limit")
    ax.legend(fontsize=7)


def _latency(ax: Any, report: Report) -> None:
    rows: list[tuple[str, dict[str, Any]]] = []
    for f in report.figures:
        latency = f.parameters.get("latency_ms") or f.parameters.get("visible_ms")
        if f.unit == "ms" and isinstance(latency, dict):
            rows.append((f.key, latency))
    if not rows:
        ax.set_title("Latency percentiles (none measured)")
        return
    width = 0.25
    for n, quantile in enumerate(("p50_ms", "p95_ms", "p99_ms")):
        ax.bar(
            [i + (n - 1) * width for i in range(len(rows))],
            [r[1].get(quantile) or 0 for r in rows],
            width=width,
            label=quantile.removesuffix("_ms"),
        )
    ax.set_xticks(range(len(rows)), [r[0] for r in rows], rotation=30, ha="right", fontsize=6)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")
    ax.set_title("Latency percentiles")
    ax.legend(fontsize=7)


def _capacity(ax: Any, report: Report) -> None:
    for runtime, runs in report.details.get("command", {}).items():
        for run in runs.get("capacity", []):
            series = run["series"]
            rates = [
                (t1, (h1 - h0) / (t1 - t0))
                for (t0, h0, _a0), (t1, h1, _a1) in itertools.pairwise(series)
                if t1 > t0
            ]
            ax.plot(
                [t for t, _ in rates],
                [r for _, r in rates],
                label=f"{runtime}, {run['workers']} worker(s)",
            )
    ax.set_xlabel("seconds since the workers started")
    ax.set_ylabel("commands handled/s")
    ax.set_title("Capacity runs")
    ax.legend(fontsize=7)


def render(report: Report, path: Path) -> None:
    fig, axes = plt.subplots(3, 1, figsize=(11, 15))
    _throughput(axes[0], report)
    _latency(axes[1], report)
    _capacity(axes[2], report)
    fig.suptitle(
        f"Threadweaver bench {report.started_at}, scale {report.config.get('scale')}, "
        f"{report.machine.get('cpu_count')} CPUs",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
