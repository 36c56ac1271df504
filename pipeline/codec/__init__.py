"""The wire codec: domain commands, events and replies <-> Avro single-object frames.

Every failure, either way, is a `CodecError` (with a `reason`), so a consumer can dead-letter
bad input without catching anything else. Schemas load on first use; call `load_schemas()` at
start-up to fail fast when the schema folder is missing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

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


@dataclass(frozen=True, slots=True)
class _TopicMapping(Generic[T]):
    """A topic's values <-> its Avro records <-> frames."""

    topic: Topic
    to_record: Callable[[T], dict[str, Any]]
    from_record: Callable[[dict[str, Any]], T]

    def encode(self, value: T) -> bytes:
        return wire_codec(self.topic).encode(_convert(self.to_record, value))

    def decode(self, data: Frame) -> T:
        return _convert(self.from_record, wire_codec(self.topic).decode(data))


_COMMANDS: _TopicMapping[Command] = _TopicMapping(
    Topic.COMMAND, mapping.command_to_record, mapping.record_to_command
)
_EVENTS: _TopicMapping[Event] = _TopicMapping(
    Topic.EVENT, mapping.event_to_record, mapping.record_to_event
)
_REPLIES: _TopicMapping[Reply] = _TopicMapping(
    Topic.REPLY, mapping.reply_to_record, mapping.record_to_reply
)
_SNAPSHOTS: _TopicMapping[ThreadSnapshot] = _TopicMapping(
    Topic.SNAPSHOT, snapshot_to_record, record_to_snapshot
)

encode_command, decode_command = _COMMANDS.encode, _COMMANDS.decode
encode_event, decode_event = _EVENTS.encode, _EVENTS.decode
encode_reply, decode_reply = _REPLIES.encode, _REPLIES.decode
encode_snapshot, decode_snapshot = _SNAPSHOTS.encode, _SNAPSHOTS.decode
