"""bench/state_size.py: the worst-case decision state, built with the real decider, stays
within one Kafka record at 5,000 live messages (issue 15)."""

from __future__ import annotations

import pytest

from bench import state_size

pytestmark = pytest.mark.unit


def test_the_worst_live_thread_fits_one_record() -> None:
    figures = state_size.measure(repeats=1)
    live = figures["live_5000"]
    assert live["live_messages"] == 5000
    assert live["fits_one_record"]
    assert live["state_bytes"] < 300_000  # 248,783 when measured: ids and senders, no texts
    removed = figures["removed_100000"]
    assert removed["removed_messages"] == 100_000
    assert removed["state_bytes"] > 0  # 4.5 MB: a known miss (README, Performance)
