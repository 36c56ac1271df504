"""The bench's command mix (the load generator's Mix with the bench's shares) must be what
the issue asks for: valid commands (the generator's model of each thread matches the
domain's), mostly AddMessages, with joins, leaves and removes, and many commands of a thread
in flight without waiting for replies."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from bench.load import mix as bench_mix
from pipeline.domain import Accepted, DecisionContext, Thread, decide, replay

pytestmark = pytest.mark.unit


def test_commands_produced_without_waiting_are_all_accepted_in_partition_order() -> None:
    mix = bench_mix(seed=3)
    context = DecisionContext(now=datetime(2026, 1, 1, tzinfo=UTC), command_offset=0)
    states: dict[str, Thread | None] = {}
    models = []
    for _ in range(50):
        command, model = mix.create()
        models.append(model)
        decision = decide(None, command, context)
        assert isinstance(decision, Accepted)
        states[model.thread_id] = replay(decision.events, None)
    kinds: Counter[str] = Counter()
    for n in range(5_000):
        model = models[n % len(models)]
        command, kind = mix.next(model)
        kinds[kind] += 1
        state = states[model.thread_id]
        decision = decide(state, command, context)
        assert isinstance(decision, Accepted), (kind, decision)
        states[model.thread_id] = replay(decision.events, state)
    assert set(kinds) == {"post", "join", "leave", "remove"}
    assert kinds["post"] > 0.8 * sum(kinds.values())
