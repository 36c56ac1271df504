"""The bench's command mix (the load generator's Mix with the bench's shares) must be what
the issue asks for: valid commands (the generator's model of each thread matches the
domain's), mostly AddMessages, with joins, leaves and removes, and many commands of a thread
in flight without waiting for replies."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.load import mix as bench_mix
from tests.support.mix import drive

pytestmark = pytest.mark.unit


def test_commands_produced_without_waiting_are_all_accepted_in_partition_order() -> None:
    kinds, rejected = drive(bench_mix(seed=3), threads=50, commands=5_000)
    assert rejected == Counter()
    assert set(kinds) == {"post", "join", "leave", "remove"}
    assert kinds["post"] > 0.8 * sum(kinds.values())
