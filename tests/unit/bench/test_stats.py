from __future__ import annotations

import math

import pytest

from bench.stats import latency_summary, nearest_rank, window_rate

pytestmark = pytest.mark.unit


def test_percentiles_are_nearest_rank_of_every_sample() -> None:
    samples = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    summary = latency_summary(samples)
    assert summary["p50_ms"] == 50.0
    assert summary["p99_ms"] == 99.0
    assert summary["max_ms"] == 100.0
    assert nearest_rank([0.5], 0.99) == 0.5


def test_an_unanswered_command_counts_as_later_than_any_answer() -> None:
    answered = [0.001] * 98
    assert latency_summary(answered, missing=2)["p99_ms"] is None
    assert latency_summary(answered, missing=2)["p50_ms"] == 1.0
    assert latency_summary([*answered, 0.001], missing=1)["p99_ms"] == 1.0


def test_window_rate_uses_the_samples_inside_the_window_only() -> None:
    series = [(0.0, 0.0), (1.0, 10.0), (2.0, 110.0), (3.0, 210.0), (4.0, 215.0)]
    rate, seconds, amount = window_rate(series, 1.5, 3.0)
    assert (rate, seconds, amount) == (100.0, 1.0, 100.0)
    assert math.isnan(window_rate(series, 3.5, 3.9)[0])
