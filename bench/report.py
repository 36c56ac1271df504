"""The figures of a run: each with its unit, method, parameters, limit, ratio and target."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal


def now_iso() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Limit:
    """What the figure is measured against: the same resource without our code on top."""

    name: str
    value: float
    unit: str
    method: str


@dataclass(frozen=True, slots=True)
class Target:
    """A goal of issue 7; `on` says whether it judges the figure or its ratio to the limit."""

    text: str
    op: Literal[">=", "<"]
    value: float
    on: Literal["value", "ratio"] = "value"

    def judge(self, value: float | None, ratio: float | None) -> str:
        subject = value if self.on == "value" else ratio
        if subject is None or math.isnan(subject):
            return "n/a"
        met = subject >= self.value if self.op == ">=" else subject < self.value
        return "pass" if met else "miss"


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    phase: str
    name: str
    value: float | None
    unit: str
    method: str
    parameters: dict[str, Any] = field(default_factory=dict)
    limit: Limit | None = None
    target: Target | None = None
    # A short companion of the value for the table (other percentiles, MB/s...).
    note: str = ""
    measured_at: str = field(default_factory=now_iso)

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.limit is None or not self.limit.value:
            return None
        return self.value / self.limit.value

    @property
    def verdict(self) -> str | None:
        return None if self.target is None else self.target.judge(self.value, self.ratio)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "phase": self.phase,
            "name": self.name,
            "value": _finite(self.value),
            "unit": self.unit,
            "method": self.method,
            "parameters": self.parameters,
            "limit": None
            if self.limit is None
            else {
                "name": self.limit.name,
                "value": _finite(self.limit.value),
                "unit": self.limit.unit,
                "method": self.limit.method,
            },
            "ratio": _finite(self.ratio),
            "target": None
            if self.target is None
            else {
                "text": self.target.text,
                "op": self.target.op,
                "value": self.target.value,
                "on": self.target.on,
            },
            "verdict": self.verdict,
            "note": self.note,
            "measured_at": self.measured_at,
        }


def figure_from_dict(raw: dict[str, Any]) -> Figure:
    """A figure as `as_dict` wrote it (a run of some phases keeps the others' figures)."""
    limit, target = raw.get("limit"), raw.get("target")
    return Figure(
        key=raw["key"],
        phase=raw["phase"],
        name=raw["name"],
        value=raw["value"],
        unit=raw["unit"],
        method=raw["method"],
        parameters=raw.get("parameters") or {},
        limit=None if limit is None else Limit(**limit),
        target=None if target is None else Target(**target),
        note=raw.get("note", ""),
        measured_at=raw.get("measured_at", ""),
    )


def _finite(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, 4)


@dataclass
class Report:
    machine: dict[str, Any]
    config: dict[str, Any]
    started_at: str = field(default_factory=now_iso)
    finished_at: str | None = None
    figures: list[Figure] = field(default_factory=list)
    # Raw material of each phase (time series, per-run details) for the chart and for audits.
    details: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "machine": self.machine,
            "config": self.config,
            "figures": [f.as_dict() for f in self.figures],
            "details": self.details,
            "errors": self.errors,
        }

    def carry_over(self, previous: dict[str, Any]) -> list[str]:
        """Keep what an earlier run measured and this one did not (each figure keeps its
        `measured_at`); the keys carried over."""
        mine = {f.key for f in self.figures}
        carried = [figure_from_dict(raw) for raw in previous.get("figures", [])]
        carried = [f for f in carried if f.key not in mine]
        self.figures = carried + self.figures
        for name, value in previous.get("details", {}).items():
            self.details.setdefault(name, value)
        return [f.key for f in carried]

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2, default=str) + "\n")
