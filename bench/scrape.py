"""Reading a component's Prometheus endpoint: its own counters are the cheapest way to watch
how much work it did, without adding a consumer of our own to the broker's load."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable, Mapping

_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)"
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Labels = Mapping[str, str]


def scrape(port: int, timeout: float = 2.0) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as answer:
        text = answer.read().decode()
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = dict(_LABEL.findall(match["labels"] or ""))
        samples.append((match["name"], labels, float(match["value"])))
    return samples


def total(
    port: int, name: str, where: Callable[[Labels], bool] = lambda _labels: True
) -> float | None:
    """The sum of a metric's samples whose labels pass `where`; None if nothing answers."""
    try:
        samples = scrape(port)
    except OSError:
        return None
    return sum(v for n, labels, v in samples if n == name and where(labels))
