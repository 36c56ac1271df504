"""The load generator's Mix against the pure decider, as if a worker decided its commands in
the order they were produced, with no reply waited for."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from pipeline.client.loadgen import Mix
from pipeline.domain import Accepted, DecisionContext, Rejected, Thread, decide, replay

CONTEXT = DecisionContext(now=datetime(2026, 1, 1, tzinfo=UTC), command_offset=0)


def drive(mix: Mix, threads: int, commands: int) -> tuple[Counter[str], Counter[str]]:
    """(kinds produced, rejection reasons by kind) when the pure decider decides them in
    the order they were produced."""
    states: dict[str, Thread | None] = {}
    models = []
    for _ in range(threads):
        command, model = mix.create()
        models.append(model)
        decision = decide(None, command, CONTEXT)
        assert isinstance(decision, Accepted)
        states[model.thread_id] = replay(decision.events, None)
    kinds: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for n in range(commands):
        model = models[n % len(models)]
        command, kind = mix.next(model)
        kinds[kind] += 1
        state = states[model.thread_id]
        decision = decide(state, command, CONTEXT)
        if isinstance(decision, Rejected):
            rejected[f"{kind} {decision.reason.value}"] += 1
        else:
            states[model.thread_id] = replay(decision.events, state)
    return kinds, rejected
