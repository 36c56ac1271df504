"""The wire codec: domain commands, events and replies <-> Avro single-object frames.

Every failure, either way, is a `CodecError` (with a `reason`), so a consumer can dead-letter
bad input without catching anything else. Schemas load on first use; call `load_schemas()` at
start-up to fail fast when the schema folder is missing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

from pipeline.codec import mapping
from pipeline.codec.errors import CodecError, describe
from pipeline.codec.schemas import Topic, load_family
from pipeline.codec.snapshot import ThreadSnapshot, record_to_snapshot, snapshot_to_record
from pipeline.codec.wire import WireCodec
from pipeline.domain.commands import Command
from pipeline.domain.events import Event
from pipeline.kafka.replies import Reply

__all__ = [
    "CodecError",
    "Topic",
    "decode_command",
    "decode_event",
    "decode_reply",
    "decode_snapshot",
    "encode_command",
    "encode_event",
    "encode_reply",
    "encode_snapshot",
    "load_schemas",
    "wire_codec",
]

# Kafka clients hand over bytes; buffers are accepted so callers need not copy.
Frame: TypeAlias = bytes | bytearray | memoryview
T = TypeVar("T")
R = TypeVar("R")


@functools.cache
def wire_codec(topic: Topic) -> WireCodec:
    return WireCodec(load_family(topic))


def load_schemas() -> None:
    for topic in Topic:
        wire_codec(topic)


def _convert(convert: Callable[[T], R], value: T) -> R:
    try:
        return convert(value)
    except CodecError:
        raise
    except Exception as exc:  # a shape the mapping did not foresee is still a codec failure
        raise CodecError(f"invalid value: {describe(exc)}") from exc


def _encode(topic: Topic, to_record: Callable[[T], dict[str, Any]], value: T) -> bytes:
    return wire_codec(topic).encode(_convert(to_record, value))


def _decode(topic: Topic, from_record: Callable[[dict[str, Any]], R], data: Frame) -> R:
    return _convert(from_record, wire_codec(topic).decode(data))


def encode_command(command: Command) -> bytes:
    return _encode(Topic.COMMAND, mapping.command_to_record, command)


def decode_command(data: Frame) -> Command:
    return _decode(Topic.COMMAND, mapping.record_to_command, data)


def encode_event(event: Event) -> bytes:
    return _encode(Topic.EVENT, mapping.event_to_record, event)


def decode_event(data: Frame) -> Event:
    return _decode(Topic.EVENT, mapping.record_to_event, data)


def encode_reply(reply: Reply) -> bytes:
    return _encode(Topic.REPLY, mapping.reply_to_record, reply)


def decode_reply(data: Frame) -> Reply:
    return _decode(Topic.REPLY, mapping.record_to_reply, data)


def encode_snapshot(snapshot: ThreadSnapshot) -> bytes:
    return _encode(Topic.SNAPSHOT, snapshot_to_record, snapshot)


def decode_snapshot(data: Frame) -> ThreadSnapshot:
    return _decode(Topic.SNAPSHOT, record_to_snapshot, data)
