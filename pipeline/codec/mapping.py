"""Domain objects <-> the dicts fastavro writes and reads, driven by one table.

`RECORD_NAMES` is the only hand-written part: it names the Avro record of every union branch
(command, event and reply bodies), so a Python class can be renamed without touching the wire.
Everything else follows the dataclasses' type hints: envelope and body fields map by name
(`body` is the Avro `payload`), tuples <-> arrays, enums <-> symbols, aware datetimes <->
timestamp-millis. Converters are compiled once, at import, into closures: the hot path does no
introspection.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Final, TypeVar, cast

from pipeline.codec.errors import CodecError
from pipeline.codec.schemas import NAMESPACE
from pipeline.domain import commands, events
from pipeline.kafka.replies import CommandAccepted, CommandRejected, Reply

T = TypeVar("T")
AvroRecord = dict[str, Any]
# None stands for "pass the value through unchanged", which the hot path then skips calling.
Convert = Callable[[Any], Any] | None

RECORD_NAMES: Final[Mapping[type[Any], str]] = {
    cls: f"{NAMESPACE}.{record}"
    for cls, record in (
        # ThreadCommand.payload
        (commands.CreateThread, "CreateThread"),
        (commands.DestroyThread, "DestroyThread"),
        (commands.JoinAdministratorIds, "JoinAdministratorIds"),
        (commands.LeaveAdministratorIds, "LeaveAdministratorIds"),
        (commands.JoinMemberIds, "JoinMemberIds"),
        (commands.LeaveMemberIds, "LeaveMemberIds"),
        (commands.AddMessages, "AddMessages"),
        (commands.RemoveMessages, "RemoveMessages"),
        # ThreadEvent.payload
        (events.ThreadCreated, "ThreadCreated"),
        (events.ThreadDestroyed, "ThreadDestroyed"),
        (events.AdministratorIdsJoined, "AdministratorIdsJoined"),
        (events.AdministratorIdsLeft, "AdministratorIdsLeft"),
        (events.MemberIdsJoined, "MemberIdsJoined"),
        (events.MemberIdsLeft, "MemberIdsLeft"),
        (events.MessagesAdded, "MessagesAdded"),
        (events.MessagesRemoved, "MessagesRemoved"),
        # ThreadReply.payload
        (CommandAccepted, "CommandAccepted"),
        (CommandRejected, "CommandRejected"),
    )
}

# Python field name -> Avro field name, where they differ.
AVRO_FIELD_NAMES: Final[Mapping[str, str]] = {"body": "payload"}

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)
_LONG_MIN: Final = -(1 << 63)
_LONG_MAX: Final = (1 << 63) - 1


def _invalid(where: str, expected: str, value: object) -> CodecError:
    return CodecError(f"invalid value: {where} must be {expected}, got {type(value).__name__}")


def _int(where: str) -> Convert:
    def encode(value: object) -> int:
        # bool is an int and fastavro would silently write floats truncated: be exact.
        if type(value) is not int:
            raise _invalid(where, "an int", value)
        if not _LONG_MIN <= value <= _LONG_MAX:
            raise CodecError(f"invalid value: {where}={value} does not fit an Avro long")
        return value

    return encode


def _timestamp_millis(where: str) -> Convert:
    def encode(value: object) -> int:
        # A naive datetime would be read as local time by fastavro: refuse the ambiguity.
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise _invalid(where, "a timezone-aware datetime", value)
        # Floor keeps pre-epoch instants in the right millisecond; sub-millisecond digits are
        # dropped because timestamp-millis cannot hold them (the domain works in milliseconds).
        return (value - _EPOCH) // _MILLISECOND

    return encode


def _enum(where: str, cls: type[Enum]) -> tuple[Convert, Convert]:
    def encode(value: object) -> object:
        if not isinstance(value, cls):
            raise _invalid(where, cls.__name__, value)
        return value.value

    return encode, cls


def _optional(inner: tuple[Convert, Convert]) -> tuple[Convert, Convert]:
    inner_encode, inner_decode = inner
    if inner_encode is None and inner_decode is None:
        return None, None

    def encode(value: object) -> object:
        return None if value is None or inner_encode is None else inner_encode(value)

    def decode(value: object) -> object:
        return None if value is None or inner_decode is None else inner_decode(value)

    return encode, decode


def _tuple(where: str, item: tuple[Convert, Convert]) -> tuple[Convert, Convert]:
    item_encode, item_decode = item

    def encode(value: object) -> object:
        # A str is iterable too and fastavro would write it as an array of characters.
        if type(value) is not tuple:
            raise _invalid(where, "a tuple", value)
        return value if item_encode is None else list(map(item_encode, value))

    def decode(value: list[Any]) -> tuple[Any, ...]:
        return tuple(value) if item_decode is None else tuple(map(item_decode, value))

    return encode, decode


def _union(
    where: str, members: tuple[type[Any], ...]
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    # A KeyError here, at import, means RECORD_NAMES misses a body type.
    encoders = {cls: (RECORD_NAMES[cls], dataclass_converters(cls)[0]) for cls in members}
    decoders = {RECORD_NAMES[cls]: dataclass_converters(cls)[1] for cls in members}

    def encode(value: object) -> tuple[str, AvroRecord]:
        entry = encoders.get(type(value))
        if entry is None:
            raise _invalid(where, " | ".join(cls.__name__ for cls in members), value)
        name, encode_record = entry
        return name, encode_record(value)

    def decode(value: object) -> object:
        # fastavro returns (record name, fields) for record unions (return_record_name=True).
        if not (isinstance(value, tuple) and len(value) == 2):
            raise _invalid(where, "a named union branch", value)
        name, fields = value
        decode_record = decoders.get(name)
        if decode_record is None:
            raise CodecError(f"invalid value: {where}: no domain type for record {name}")
        return decode_record(fields)

    return encode, decode


def _converters(where: str, hint: Any) -> tuple[Convert, Convert]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is str:
        return None, None  # fastavro rejects non-str values itself
    if hint is int:
        return _int(where), None
    if hint is datetime:
        return _timestamp_millis(where), None  # fastavro reads timestamp-millis as aware UTC
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _enum(where, hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return dataclass_converters(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _tuple(where, _converters(f"{where}[]", args[0]))
    if origin in (types.UnionType, typing.Union):
        present = tuple(arg for arg in args if arg is not types.NoneType)
        if len(present) == 1 and len(args) == 2:
            return _optional(_converters(where, present[0]))
        if all(isinstance(arg, type) and dataclasses.is_dataclass(arg) for arg in args):
            return _union(where, args)
    raise TypeError(f"{where}: no Avro mapping for type hint {hint!r}")


_COMPILED: dict[type[Any], tuple[Callable[[Any], AvroRecord], Callable[[AvroRecord], Any]]] = {}


def dataclass_converters(
    cls: type[T],
) -> tuple[Callable[[T], AvroRecord], Callable[[AvroRecord], T]]:
    """(to record, from record) for a dataclass, compiled once from its fields and hints."""
    compiled = _COMPILED.get(cls)
    if compiled is not None:
        return compiled
    hints = typing.get_type_hints(cls)
    plan = []
    for field in dataclasses.fields(cast(Any, cls)):
        if not field.init:
            raise TypeError(f"{cls.__name__}.{field.name}: non-init fields are not mapped")
        where = f"{cls.__name__}.{field.name}"
        avro_name = AVRO_FIELD_NAMES.get(field.name, field.name)
        plan.append((field.name, avro_name, *_converters(where, hints[field.name])))

    # Plain loops, not comprehensions: on Python 3.11 each comprehension is an extra frame,
    # which costs more than the work itself for records this small.
    def encode(obj: T) -> AvroRecord:
        if not isinstance(obj, cls):
            raise _invalid(cls.__name__, cls.__name__, obj)
        record = {}
        for name, avro, enc, _ in plan:
            value = getattr(obj, name)
            record[avro] = value if enc is None else enc(value)
        return record

    def decode(record: AvroRecord) -> T:
        args = []  # positional, in field order: dataclasses.fields() is the constructor's order
        for _, avro, _, dec in plan:
            value = record[avro]
            args.append(value if dec is None else dec(value))
        return cls(*args)

    _COMPILED[cls] = (encode, decode)
    return encode, decode


command_to_record, record_to_command = dataclass_converters(commands.Command)
event_to_record, record_to_event = dataclass_converters(events.Event)
_reply_to_payload, _payload_to_reply = _union("ThreadReply.payload", typing.get_args(Reply))


def reply_to_record(reply: Reply) -> AvroRecord:
    # Replies have no envelope dataclass: the Avro record is just the payload union.
    return {"payload": _reply_to_payload(reply)}


def record_to_reply(record: AvroRecord) -> Reply:
    return cast(Reply, _payload_to_reply(record["payload"]))
