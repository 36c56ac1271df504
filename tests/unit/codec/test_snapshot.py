"""A thread snapshot round-trips every reachable state exactly; a corrupt one is a CodecError."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given

from pipeline.codec import CodecError, decode_snapshot, encode_snapshot
from pipeline.codec.schemas import Topic, load_family
from pipeline.codec.snapshot import StateOmitted, ThreadSnapshot
from pipeline.codec.wire import MAGIC
from pipeline.domain import Command, Thread
from tests.unit.codec.compat import write
from tests.unit.domain.test_properties import PROPERTY_SETTINGS, run, sequences

pytestmark = pytest.mark.unit


@PROPERTY_SETTINGS
@given(sequences)
def test_every_reachable_state_round_trips(cmds: list[Command]) -> None:
    agg, _ = run(cmds)
    state = agg.state
    assert isinstance(state, Thread)
    snapshot = ThreadSnapshot(state.thread_id, 3, 1_234, state)
    restored = decode_snapshot(encode_snapshot(snapshot))
    assert restored == snapshot
    assert isinstance(restored.state, Thread)
    # Order matters to the domain: messages in insertion order, recent commands oldest first.
    assert list(restored.state.messages.items()) == list(state.messages.items())
    assert list(restored.state.recent_commands) == list(state.recent_commands)


def test_an_omitted_state_round_trips() -> None:
    snapshot = ThreadSnapshot(
        "01J0000000000000000000000A", 0, 7, StateOmitted(2_000_000, 1_000_000)
    )
    assert decode_snapshot(encode_snapshot(snapshot)) == snapshot


def _state_frame(**fields: object) -> bytes:
    """A snapshot frame written straight with the schema: an empty thread state at version 1,
    with `fields` replaced."""
    state: dict[str, object] = {
        "creator_id": "a",
        "parent_thread_id": None,
        "title": "t",
        "remarks": None,
        "administrator_ids": ["a"],
        "member_ids": [],
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
        "version": 1,
        "last_command_offset": 0,
        "destroyed": False,
        "senders": [],
        "message_ids": [],
        "message_senders": [],
        "removed_message_ids": [],
        "recent_command_ids": [],
        "recent_versions": [],
        "recent_event_counts": [],
        "recent_event_ids": [],
        "recent_message_counts": [],
        "recent_message_ids": [],
        **fields,
    }
    record = {
        "thread_id": "x",
        "journal_partition": 0,
        "journal_offset": 1,
        "payload": ("threadweaver.v1.ThreadState", state),
    }
    current = load_family(Topic.SNAPSHOT).current
    return MAGIC + current.fingerprint + write(current.raw, record)


@pytest.mark.parametrize(
    ("senders", "message_senders"),
    [([], [0]), (["01J0000000000000000000000B"], [0, 0]), (["01J0000000000000000000000B"], [1])],
)
def test_message_senders_must_index_senders(senders: list[str], message_senders: list[int]) -> None:
    frame = _state_frame(
        senders=senders,
        message_ids=["01J0000000000000000000000M"],
        message_senders=message_senders,
    )
    with pytest.raises(CodecError):
        decode_snapshot(frame)


def test_garbage_is_a_codec_error() -> None:
    with pytest.raises(CodecError):
        decode_snapshot(b"\xc3\x01" + b"\x00" * 8 + b"junk")


def test_the_state_record_holds_every_field_of_the_decision_state() -> None:
    raw = load_family(Topic.SNAPSHOT).current.raw
    payload = next(f for f in raw["fields"] if f["name"] == "payload")
    state = next(b for b in payload["type"] if b["name"] == "ThreadState")
    # thread_id is the envelope's; live messages and recent outcomes are parallel arrays.
    expected = {f.name for f in dataclasses.fields(Thread)} - {
        "thread_id",
        "messages",
        "recent_commands",
    }
    expected |= {"senders", "message_ids", "message_senders"}
    expected |= {
        "recent_command_ids",
        "recent_versions",
        "recent_event_counts",
        "recent_event_ids",
        "recent_message_counts",
        "recent_message_ids",
    }
    assert {f["name"] for f in state["fields"]} == expected


@pytest.mark.parametrize(
    ("counts", "ids"),
    [([2], ["01J0000000000000000000000E"]), ([0, 2], ["01J0000000000000000000000E"]), ([-1], [])],
)
def test_recent_event_counts_must_add_up_to_the_ids(counts: list[int], ids: list[str]) -> None:
    frame = _state_frame(
        recent_command_ids=[f"01J000000000000000000000C{n}" for n in range(len(counts))],
        recent_versions=[1] * len(counts),
        recent_event_counts=counts,
        recent_event_ids=ids,
        recent_message_counts=[0] * len(counts),
    )
    with pytest.raises(CodecError):
        decode_snapshot(frame)
