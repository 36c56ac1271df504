"""The worker's stored form of a Thread round-trips exactly, and garbage never passes as one."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given

from pipeline.domain import AddMessages, Command, NewMessage, Thread
from pipeline.worker import state_codec
from pipeline.worker.store import FORMAT, UnreadableStateError, _decode, _encode
from tests.support.builders import ALICE, BOB, Aggregate, command, create, ulid
from tests.unit.domain.test_properties import PROPERTY_SETTINGS, run, sequences

pytestmark = pytest.mark.unit


@PROPERTY_SETTINGS
@given(sequences)
def test_every_reachable_state_round_trips(cmds: list[Command]) -> None:
    agg, _ = run(cmds)
    state = agg.state
    assert isinstance(state, Thread)
    restored = state_codec.loads(state_codec.dumps(state))
    assert restored == state
    # Order matters to the domain: messages list in insertion order, recent commands oldest first.
    assert list(restored.messages.items()) == list(state.messages.items())
    assert list(restored.recent_commands) == list(state.recent_commands)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x02garbage",
        FORMAT + pickle.dumps(("too", "short")),
        FORMAT + pickle.dumps({"a": 1}),
        b"\x01" + pickle.dumps(("an", "older", "format")),
        # Format 2 held each live message's text, reply target, recipients and time.
        b"\x02" + pickle.dumps(tuple(range(15))),
        FORMAT + pickle.dumps(tuple(range(15))),
    ],
)
def test_anything_else_is_unreadable_not_a_crash(raw: bytes) -> None:
    with pytest.raises(UnreadableStateError):
        _decode(raw)


@PROPERTY_SETTINGS
@given(sequences)
def test_store_encoding_round_trips(cmds: list[Command]) -> None:
    agg, _ = run(cmds)
    assert isinstance(agg.state, Thread)
    assert _decode(_encode(agg.state)) == agg.state


def test_the_stored_state_holds_no_message_text() -> None:
    """Texts, reply targets and recipients live in the journal, not in the decision state."""
    agg = Aggregate()
    agg.handle(create(members=(BOB,)))
    first = ulid()
    agg.handle(command(AddMessages((NewMessage(first, "first words"),)), sender=BOB))
    text = "a text only the journal keeps"
    second = NewMessage(ulid(), text, first, (ALICE,))
    agg.handle(command(AddMessages((second,)), sender=BOB))
    state = agg.state
    assert isinstance(state, Thread)
    assert state.messages == {first: BOB, second.message_id: BOB}
    stored = _encode(state)
    assert text.encode() not in stored
    assert b"first words" not in stored
    assert _decode(stored) == state
