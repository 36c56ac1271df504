"""A thread snapshot round-trips every reachable state exactly; a corrupt one is a CodecError."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime

import fastavro
import pytest
from hypothesis import given

from pipeline.codec import CodecError, decode_snapshot, encode_snapshot
from pipeline.codec.packed import unpack
from pipeline.codec.schemas import Topic, load_family
from pipeline.codec.snapshot import StateOmitted, ThreadSnapshot
from pipeline.codec.wire import MAGIC
from pipeline.domain import Command, Thread
from pipeline.domain.state import AcceptedOutcome
from tests.unit.codec.compat import write
from tests.unit.domain.test_properties import PROPERTY_SETTINGS, run, sequences

pytestmark = pytest.mark.unit

# The ULID lists that v2 writes packed (pipeline/codec/packed.py).
PACKED = (
    "message_ids",
    "removed_message_ids",
    "recent_command_ids",
    "recent_event_ids",
    "recent_message_ids",
)


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
        **{f"{name}_packed": b"" for name in PACKED},
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


def _body(frame: bytes) -> dict[str, object]:
    """The ThreadState fields of a frame, read straight with the schema."""
    current = load_family(Topic.SNAPSHOT).current
    assert frame.startswith(MAGIC + current.fingerprint)
    record = fastavro.schemaless_reader(
        io.BytesIO(frame[10:]), current.raw, return_record_name=True
    )
    name, body = record["payload"]
    assert name == "threadweaver.v1.ThreadState"
    return body


def _ulid(n: int) -> str:
    return f"01J{n:023d}"


def _thread_with_ulids() -> Thread:
    return Thread(
        thread_id=_ulid(1),
        creator_id=_ulid(2),
        parent_thread_id=None,
        title="t",
        remarks=None,
        administrator_ids=frozenset({_ulid(2)}),
        member_ids=frozenset({_ulid(3)}),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 1, 2, tzinfo=UTC),
        version=9,
        last_command_offset=8,
        messages={_ulid(10 + n): _ulid(2 + n % 2) for n in range(5)},
        removed_message_ids=frozenset({_ulid(20), _ulid(21)}),
        recent_commands={
            _ulid(30): AcceptedOutcome(_ulid(30), 8, (_ulid(40),), (_ulid(10), _ulid(11))),
            _ulid(31): AcceptedOutcome(_ulid(31), 9, (_ulid(41), _ulid(42)), ()),
        },
    )


def test_ulid_lists_are_written_packed_and_read_back_in_order() -> None:
    state = _thread_with_ulids()
    frame = encode_snapshot(ThreadSnapshot(state.thread_id, 1, 50, state))
    body = _body(frame)
    for name in PACKED:
        assert body[name] == [], name
    assert body["message_ids_packed"] == "".join(state.messages).encode()
    assert body["recent_event_ids_packed"] == "".join([_ulid(40), _ulid(41), _ulid(42)]).encode()
    restored = decode_snapshot(frame).state
    assert restored == state
    assert isinstance(restored, Thread)
    assert list(restored.messages) == list(state.messages)


def test_ids_that_are_not_ulids_are_written_one_by_one() -> None:
    state = dataclasses.replace(_thread_with_ulids(), messages={"m1": "a", "m22": "b"})
    frame = encode_snapshot(ThreadSnapshot(state.thread_id, 1, 50, state))
    body = _body(frame)
    assert body["message_ids"] == ["m1", "m22"]
    assert body["message_ids_packed"] == b""
    assert body["removed_message_ids"] == []  # the other lists still pack
    assert decode_snapshot(frame).state == state


def test_a_snapshot_written_with_v1_is_read() -> None:
    """v1 had no packed fields: its arrays are read as they are."""
    v1 = load_family(Topic.SNAPSHOT).versions[0]
    assert v1.version == 1
    state = _thread_with_ulids()
    body = _body(encode_snapshot(ThreadSnapshot(state.thread_id, 1, 50, state)))
    for name in PACKED:
        body[name] = unpack(body.pop(f"{name}_packed").decode())  # type: ignore[union-attr]
    record = {
        "thread_id": state.thread_id,
        "journal_partition": 1,
        "journal_offset": 50,
        "payload": ("threadweaver.v1.ThreadState", body),
    }
    frame = MAGIC + v1.fingerprint + write(v1.raw, record)
    assert decode_snapshot(frame) == ThreadSnapshot(state.thread_id, 1, 50, state)


@pytest.mark.parametrize(
    "fields",
    [
        {"message_ids_packed": _ulid(5).encode()[:-1], "message_senders": [0], "senders": ["a"]},
        {"removed_message_ids_packed": "01J0000000000000000000000É".encode()},
        {"removed_message_ids_packed": _ulid(5).encode(), "removed_message_ids": [_ulid(6)]},
    ],
    ids=["not-whole-ids", "not-ascii", "packed-and-one-by-one"],
)
def test_a_bad_packed_list_is_a_codec_error(fields: dict[str, object]) -> None:
    with pytest.raises(CodecError):
        decode_snapshot(_state_frame(**fields))


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
    expected |= {f"{name}_packed" for name in PACKED}
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
