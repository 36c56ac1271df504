"""Bad input, either way, is a CodecError and never anything else."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import codec
from pipeline.codec import CodecError, Topic
from pipeline.codec.schemas import load_family
from pipeline.codec.snapshot import StateOmitted, ThreadSnapshot
from pipeline.codec.wire import HEADER_SIZE, MAGIC
from pipeline.domain.commands import AddMessages, CreateThread, JoinMemberIds, NewMessage
from pipeline.domain.events import ThreadDestroyed
from pipeline.kafka.replies import CommandRejected
from tests.unit.codec import strategies as s
from tests.unit.codec.compat import DECODERS, ReleaseVersion, current_schema, field

pytestmark = pytest.mark.unit

VALID: dict[Topic, bytes] = {
    Topic.COMMAND: codec.encode_command(s.command_with(s.COMMAND_BODY_EXAMPLES[1])),
    Topic.EVENT: codec.encode_event(s.event_with(s.EVENT_BODY_EXAMPLES[1])),
    Topic.REPLY: codec.encode_reply(s.REPLY_EXAMPLES[3]),
    Topic.SNAPSHOT: codec.encode_snapshot(
        ThreadSnapshot("01J0000000000000000000000A", 0, 1, StateOmitted(2, 1))
    ),
}
TOPICS = list(Topic)


def reason_of(decode: Callable[[Any], object], data: Any) -> str:
    with pytest.raises(CodecError) as caught:
        decode(data)
    return caught.value.reason


def write_raw(topic: Topic, record: dict[str, Any]) -> bytes:
    current = load_family(topic).current
    buffer = io.BytesIO(MAGIC + current.fingerprint)
    buffer.seek(HEADER_SIZE)
    fastavro.schemaless_writer(buffer, current.parsed, record)
    return buffer.getvalue()


# Framing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", TOPICS)
@pytest.mark.parametrize("data", [b"", b"\xc3", b"{}", b"\x00" * 20, None, "text", 42])
def test_not_a_frame(topic: Topic, data: Any) -> None:
    assert reason_of(DECODERS[topic], data).startswith("not single-object encoding")


@pytest.mark.parametrize("topic", TOPICS)
def test_wrong_magic(topic: Topic) -> None:
    frame = VALID[topic]
    for magic in (b"\xc3\x00", b"\xc2\x01", b"\x01\xc3", b"\x00\x00"):
        reason = reason_of(DECODERS[topic], magic + frame[2:])
        assert reason.startswith("not single-object encoding")


@pytest.mark.parametrize("topic", TOPICS)
def test_truncated_header(topic: Topic) -> None:
    for cut in range(HEADER_SIZE):
        assert reason_of(DECODERS[topic], VALID[topic][:cut]).startswith(
            "not single-object encoding"
        )


@pytest.mark.parametrize("topic", TOPICS)
def test_unknown_fingerprint(topic: Topic) -> None:
    frame = MAGIC + bytes.fromhex("0123456789abcdef") + VALID[topic][HEADER_SIZE:]
    assert reason_of(DECODERS[topic], frame) == "unknown fingerprint 0123456789abcdef"


def test_a_frame_of_another_topic_is_an_unknown_fingerprint() -> None:
    reason = reason_of(codec.decode_command, VALID[Topic.EVENT])
    assert reason == f"unknown fingerprint {VALID[Topic.EVENT][2:HEADER_SIZE].hex()}"


@pytest.mark.parametrize("topic", TOPICS)
def test_truncated_body(topic: Topic) -> None:
    frame = VALID[topic]
    for cut in range(HEADER_SIZE, len(frame)):
        assert reason_of(DECODERS[topic], frame[:cut]).startswith("corrupt body: ")


@pytest.mark.parametrize("topic", TOPICS)
def test_trailing_bytes(topic: Topic) -> None:
    assert reason_of(DECODERS[topic], VALID[topic] + b"\x00") == "corrupt body: 1 trailing bytes"


@pytest.mark.parametrize("topic", TOPICS)
def test_bytearray_and_memoryview_are_accepted(topic: Topic) -> None:
    decode = DECODERS[topic]
    assert (
        decode(bytearray(VALID[topic])) == decode(memoryview(VALID[topic])) == decode(VALID[topic])
    )


# Corrupt bodies -------------------------------------------------------------------------------


def test_union_index_out_of_range() -> None:
    header = VALID[Topic.REPLY][:HEADER_SIZE]
    assert reason_of(codec.decode_reply, header + b"\x04").startswith("corrupt body: ")  # branch 2
    assert reason_of(codec.decode_reply, header + b"\x01").startswith("corrupt body: ")  # branch -1


def test_enum_index_out_of_range() -> None:
    header = VALID[Topic.REPLY][:HEADER_SIZE]
    body = b"\x02" + b"\x02a" + b"\x02b" + b"\x7e" + b"\x00"  # CommandRejected, reason #63
    assert reason_of(codec.decode_reply, header + body).startswith("corrupt body: ")


def test_invalid_utf8() -> None:
    header = VALID[Topic.REPLY][:HEADER_SIZE]
    body = b"\x02" + b"\x04\xff\xfe" + b"\x02b" + b"\x00" + b"\x00"
    assert reason_of(codec.decode_reply, header + body).startswith("corrupt body: ")


@pytest.mark.parametrize("millis", [(1 << 63) - 1, -(1 << 63), 253_402_300_800_000])
def test_timestamp_out_of_datetime_range(millis: int) -> None:
    frame = write_raw(
        Topic.COMMAND,
        {
            "command_id": "c",
            "thread_id": "t",
            "sender_id": "s",
            "requested_at": millis,
            "payload": ("threadweaver.v1.DestroyThread", {}),
        },
    )
    assert reason_of(codec.decode_command, frame).startswith("corrupt body: ")


def test_union_branch_unknown_to_the_mapping(release_version: ReleaseVersion) -> None:
    v2 = current_schema(Topic.COMMAND)
    field(v2, "payload")["type"].append(
        {"type": "record", "name": "Bogus", "doc": "unknown to the mapping", "fields": []}
    )
    release_version(Topic.COMMAND, 2, v2)
    frame = codec.wire_codec(Topic.COMMAND).encode(
        {
            "command_id": "c",
            "thread_id": "t",
            "sender_id": "s",
            "requested_at": 0,
            "payload": ("threadweaver.v1.Bogus", {}),
        }
    )
    reason = reason_of(codec.decode_command, frame)
    assert reason.startswith("invalid value: ")
    assert "threadweaver.v1.Bogus" in reason


# Properties -----------------------------------------------------------------------------------


def decodes_or_codec_error(decode: Callable[[bytes], object], data: bytes) -> None:
    try:
        decode(data)
    except CodecError as error:
        reason, text = error.reason, str(error)
    else:
        return
    assert reason
    assert reason == text


@settings(max_examples=500)
@given(st.sampled_from(TOPICS), st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_codec_error(topic: Topic, data: bytes) -> None:
    decodes_or_codec_error(DECODERS[topic], data)


@settings(max_examples=1000)
@given(st.sampled_from(TOPICS), st.binary(max_size=200))
def test_arbitrary_bodies_decode_or_raise_codec_error(topic: Topic, body: bytes) -> None:
    # Behind a valid header the body reaches fastavro: the interesting failures live here.
    decodes_or_codec_error(DECODERS[topic], VALID[topic][:HEADER_SIZE] + body)


@settings(max_examples=1000)
@given(st.sampled_from(TOPICS), st.data())
def test_mutated_frames_decode_or_raise_codec_error(topic: Topic, data: st.DataObject) -> None:
    frame = bytearray(VALID[topic])
    index = data.draw(st.integers(HEADER_SIZE, len(frame) - 1))
    frame[index] = data.draw(st.integers(0, 255))
    decodes_or_codec_error(DECODERS[topic], bytes(frame))


# Encoding values the schema cannot hold -------------------------------------------------------

COMMAND = s.command_with(JoinMemberIds((s.BOB,)))
EVENT = s.event_with(ThreadDestroyed())


def untyped(build: Callable[..., object], *args: Any, **kwargs: Any) -> Any:
    """Build a deliberately ill-typed object, as untyped callers could."""
    return build(*args, **kwargs)


@pytest.mark.parametrize(
    "bad",
    [
        untyped(replace, COMMAND, command_id=123),
        untyped(replace, COMMAND, sender_id=None),
        untyped(replace, COMMAND, thread_id=b"bytes"),
        untyped(replace, COMMAND, requested_at=datetime(2026, 1, 1)),  # naive
        untyped(replace, COMMAND, requested_at=1_700_000_000_000),
        untyped(
            replace, COMMAND, body=untyped(JoinMemberIds, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
        ),  # str, not tuple
        untyped(replace, COMMAND, body=untyped(JoinMemberIds, [s.BOB])),
        untyped(replace, COMMAND, body=untyped(JoinMemberIds, (s.BOB, 7))),
        untyped(replace, COMMAND, body=untyped(CreateThread, "t", (), (), remarks=5)),
        untyped(
            replace, COMMAND, body=untyped(CreateThread, "\ud800", (), ())
        ),  # lone surrogate: not UTF-8
        untyped(replace, COMMAND, body=untyped(AddMessages, ("not a message",))),
        untyped(replace, COMMAND, body=untyped(AddMessages, (untyped(NewMessage, s.M1, None),))),
        untyped(replace, COMMAND, body=ThreadDestroyed()),  # an event body in a command
        untyped(replace, COMMAND, body=None),
        EVENT,
    ],
    ids=repr,
)
def test_encode_command_rejects(bad: Any) -> None:
    assert reason_of(codec.encode_command, bad).startswith("invalid value: ")


@pytest.mark.parametrize(
    "bad",
    [
        untyped(replace, EVENT, seq_nr=True),
        untyped(replace, EVENT, seq_nr=1.5),
        untyped(replace, EVENT, seq_nr=1 << 63),
        untyped(replace, EVENT, command_offset=-(1 << 63) - 1),
        untyped(replace, EVENT, occurred_at="2026-01-01T00:00:00Z"),
        COMMAND,
    ],
    ids=repr,
)
def test_encode_event_rejects(bad: Any) -> None:
    assert reason_of(codec.encode_event, bad).startswith("invalid value: ")


@pytest.mark.parametrize(
    "bad",
    [
        untyped(CommandRejected, s.CID, s.THREAD, "THREAD_NOT_FOUND", "plain str, not the enum"),
        untyped(replace, s.REPLY_EXAMPLES[0], version=None),
        untyped(replace, s.REPLY_EXAMPLES[0], event_ids=None),
        COMMAND,
        None,
    ],
    ids=repr,
)
def test_encode_reply_rejects(bad: Any) -> None:
    assert reason_of(codec.encode_reply, bad).startswith("invalid value: ")


def test_reasons_are_bounded() -> None:
    error = CodecError("invalid value: " + "x" * 10_000)
    assert len(error.reason) <= 300
