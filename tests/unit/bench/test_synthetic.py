"""The synthetic journals the projector and recovery phases replay must be journals the
system could have written: decodable, gapless per thread, starting with ThreadCreated, and
open to new commands (a probe must be decided, not taken for one already decided)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from bench import synthetic
from pipeline.client.commands import CommandFactory
from pipeline.codec import decode_event, encode_event
from pipeline.domain import Accepted, Event, ThreadCreated, evolve
from pipeline.worker.handling import Decided, context_for, handle

pytestmark = pytest.mark.unit


def test_threads_are_gapless_decodable_and_accept_a_probe_at_offset_zero() -> None:
    by_thread: dict[str, list[Event]] = defaultdict(list)
    for event in synthetic.interleaved(seed=5, first=0, count=20, events_per_thread=120):
        assert decode_event(encode_event(event)) == event
        by_thread[event.thread_id].append(event)
    assert len(by_thread) == 20
    for index in range(20):
        t = synthetic.thread(5, index)
        events = by_thread[t.thread_id]
        assert [e.seq_nr for e in events] == list(range(1, 121))
        assert isinstance(events[0].body, ThreadCreated)
        state = None
        for event in events:
            state = evolve(state, event)
        assert state is not None
        assert state.version == 120
        probe = CommandFactory().post(t.thread_id, t.admin, "are you there?")
        outcome = handle(state, probe, context_for(1_767_225_600_000, 0))
        assert isinstance(outcome, Decided)
        assert isinstance(outcome.decision, Accepted)


def test_the_same_seed_and_index_name_the_same_thread_in_every_process() -> None:
    assert synthetic.thread(9, 3).thread_id == synthetic.thread(9, 3).thread_id
    assert synthetic.thread(9, 3).thread_id != synthetic.thread(9, 4).thread_id
    assert synthetic.thread(9, 3).thread_id != synthetic.thread(10, 3).thread_id
