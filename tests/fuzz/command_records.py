"""Hypothesis strategies for records on the command topic that a worker must survive.

Each `FuzzRecord` is what a misbehaving or hostile producer could write: random bytes,
corrupted frames, frames of an unknown schema, well-framed commands that break the value
rules or are far too large, and commands under the wrong key or in the wrong partition.
Ids come from `FreshIds`, not from Hypothesis: drawn values repeat (Hypothesis favours
small ones), and a repeated command or thread id would make a bad record the retry of
another command.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from hypothesis import strategies as st

from pipeline import domain
from pipeline.codec import Topic, encode_command, wire_codec
from pipeline.codec.schemas import load_family
from pipeline.codec.wire import HEADER_SIZE, MAGIC
from pipeline.domain import Command, CommandBody, NewMessage, limits
from pipeline.domain.ids import is_ulid, ulid_from_parts
from pipeline.kafka.dead_letters import (
    REASON_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
)
from pipeline.kafka.partitioner import partition_for
from pipeline.kafka.replies import REPLY_PARTITION_HEADER

# librdkafka's default message.max.bytes, which every Threadweaver producer keeps, bounds
# key + value + headers + 36 bytes of framing: huge records go up to that edge.
CLIENT_RECORD_MAX: Final = 1_000_000
RECORD_MAX: Final = CLIENT_RECORD_MAX - 36
# One in HUGE_ONE_IN records is huge: each costs up to a megabyte several times over (the
# command, its dead letter, the broker's memory).
HUGE_ONE_IN: Final = 25


@dataclass(frozen=True)
class FuzzRecord:
    family: str
    value: bytes | None
    key: bytes | None
    # None: the producer's murmur2 partitioner chooses from the key (a null key: at random).
    partition: int | None
    headers: tuple[tuple[str, bytes], ...] = ()
    # The command behind the value when the family promises that it breaks a value rule
    # (None: no promise, e.g. for random bytes or a mutated frame).
    broken: Command | None = None


class FreshIds:
    """ULIDs unique within the run (and, by their time part, across runs)."""

    def __init__(self) -> None:
        self._millis = int(time.time() * 1000)
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return ulid_from_parts(self._millis, next(self._counter))

    def many(self, count: int) -> tuple[str, ...]:
        return tuple(self() for _ in range(count))


@dataclass(frozen=True)
class Pool:
    """Threads that exist before the run (one administrator each); bad records aim at
    them too, and their canaries must keep being accepted."""

    thread_ids: tuple[str, ...]
    admins: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    pool: Pool
    ids: FreshIds
    partitions: int

    @property
    def fresh(self) -> st.SearchStrategy[str]:
        return st.builds(self.ids)

    def pool_thread(self) -> st.SearchStrategy[int]:
        return st.integers(0, len(self.pool.thread_ids) - 1)


# --- valid commands --------------------------------------------------------------------------

_TEXT = st.text(min_size=1, max_size=40)
_REQUESTED_AT = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))


def _ids(fresh: st.SearchStrategy[str], min_size: int = 0) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(fresh, min_size=min_size, max_size=3).map(tuple)


def bodies(fresh: st.SearchStrategy[str]) -> st.SearchStrategy[CommandBody]:
    """Every command body, with values inside the rules."""
    message = st.builds(
        NewMessage,
        message_id=fresh,
        text=_TEXT,
        reply_message_id=st.none() | fresh,
        to_account_ids=_ids(fresh),
    )
    return st.one_of(
        st.builds(
            domain.CreateThread,
            title=_TEXT,
            administrator_ids=_ids(fresh),
            member_ids=_ids(fresh),
            parent_thread_id=st.none() | fresh,
            remarks=st.none() | st.text(max_size=40),
        ),
        st.just(domain.DestroyThread()),
        st.builds(domain.JoinAdministratorIds, _ids(fresh, 1)),
        st.builds(domain.LeaveAdministratorIds, _ids(fresh, 1)),
        st.builds(domain.JoinMemberIds, _ids(fresh, 1)),
        st.builds(domain.LeaveMemberIds, _ids(fresh, 1)),
        st.builds(domain.AddMessages, st.lists(message, min_size=1, max_size=3).map(tuple)),
        st.builds(domain.RemoveMessages, _ids(fresh, 1)),
    )


def commands(
    fresh: st.SearchStrategy[str],
    thread_ids: st.SearchStrategy[str],
    senders: st.SearchStrategy[str],
) -> st.SearchStrategy[Command]:
    return st.builds(
        Command,
        command_id=fresh,
        thread_id=thread_ids,
        sender_id=senders,
        requested_at=_REQUESTED_AT,
        body=bodies(fresh),
    )


def _stranger_command(scope: Scope) -> st.SearchStrategy[Command]:
    """A command of an account unknown to every pool thread: if a corruption still leaves
    a valid command, it may create a thread of its own but cannot change a pool thread."""
    return commands(scope.fresh, st.sampled_from(scope.pool.thread_ids) | scope.fresh, scope.fresh)


def _routed(thread_id: str, partitions: int) -> tuple[bytes, int]:
    """Key and partition as every Threadweaver producer sets them: murmur2(thread id)."""
    key = thread_id.encode()
    return key, partition_for(key, partitions)


def _headers() -> st.SearchStrategy[tuple[tuple[str, bytes], ...]]:
    """Mostly none; else junk, a reply partition that is no partition, or forged DLQ headers."""
    names = [
        REPLY_PARTITION_HEADER,
        REASON_HEADER,
        SOURCE_TOPIC_HEADER,
        SOURCE_PARTITION_HEADER,
        SOURCE_OFFSET_HEADER,
        "x-junk",
        "",
    ]
    name = st.sampled_from(names) | st.text(max_size=20)
    junk_values = [b"", b"-1", b"4096", b"1" * 5000, b"\xff\xfe", b"3 "]
    value = st.sampled_from(junk_values) | st.binary(max_size=64)
    junk = st.lists(st.tuples(name, value), min_size=1, max_size=4).map(tuple)
    return st.one_of(st.just(()), st.just(()), junk)


# --- families --------------------------------------------------------------------------------


@st.composite
def random_bytes(draw: st.DrawFn, scope: Scope) -> FuzzRecord:
    header = wire_codec(Topic.COMMAND).header
    prefix = draw(st.sampled_from([b"", b"", MAGIC, header]))
    value = draw(st.none() | st.binary(max_size=2048).map(lambda body: prefix + body))
    pool_keys = st.sampled_from(scope.pool.thread_ids).map(str.encode)
    key = draw(st.none() | st.binary(max_size=40) | pool_keys)
    partition = draw(st.none() | st.integers(0, scope.partitions - 1))
    return FuzzRecord("random-bytes", value, key, partition, draw(_headers()))


@st.composite
def _mutation(draw: st.DrawFn, data: bytes) -> bytes:
    if not data:
        return draw(st.binary(min_size=1, max_size=8))
    at = draw(st.integers(0, len(data) - 1))
    kind = draw(st.sampled_from(["flip", "truncate", "remove", "duplicate", "splice", "set"]))
    match kind:
        case "flip":
            flipped = data[at] ^ (1 << draw(st.integers(0, 7)))
            return data[:at] + bytes([flipped]) + data[at + 1 :]
        case "truncate":
            return data[:at]
        case "remove":
            return data[:at] + data[at + draw(st.integers(1, 16)) :]
        case "duplicate":
            return data[:at] + data[at : at + draw(st.integers(1, 16))] + data[at:]
        case "splice":
            return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
        case _:
            byte = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]))
            return data[:at] + bytes([byte]) + data[at + 1 :]


@st.composite
def mutated(draw: st.DrawFn, scope: Scope) -> FuzzRecord:
    command = draw(_stranger_command(scope))
    value = encode_command(command)
    for _ in range(draw(st.integers(1, 4))):
        value = draw(_mutation(value))
    key, partition = _routed(command.thread_id, scope.partitions)
    return FuzzRecord("mutated", value, key, partition, draw(_headers()))


@st.composite
def unknown_fingerprint(draw: st.DrawFn, scope: Scope) -> FuzzRecord:
    known = set(load_family(Topic.COMMAND).by_fingerprint)
    command = draw(_stranger_command(scope))
    valid = encode_command(command)
    fingerprint = draw(st.binary(min_size=8, max_size=8).filter(lambda fp: fp not in known))
    value = valid[: len(MAGIC)] + fingerprint + valid[HEADER_SIZE:]
    key, partition = _routed(command.thread_id, scope.partitions)
    return FuzzRecord("unknown-fingerprint", value, key, partition)


def bad_ulids(fresh: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Strings that are not canonical ULIDs (pipeline/domain/validation.py: ids are ULIDs)."""
    return st.one_of(
        fresh.map(str.lower),
        fresh.map(lambda u: u[:-1]),
        fresh.map(lambda u: u + "0"),
        fresh.map(lambda u: "8" + u[1:]),  # a time part over 48 bits
        st.tuples(fresh, st.sampled_from("ILOU-ü ")).map(lambda t: t[0][:-1] + t[1]),
        st.just(""),
        st.text(max_size=30),
    ).filter(lambda value: not is_ulid(value))


@st.composite
def _bad_account_ids(draw: st.DrawFn, scope: Scope, *, empty: bool) -> tuple[str, ...]:
    options = ["too many", "bad id"] + (["empty"] if empty else [])
    match draw(st.sampled_from(options)):
        case "empty":
            return ()
        case "too many":
            extra = draw(st.integers(1, 50))
            return scope.ids.many(limits.ACCOUNT_IDS_PER_COMMAND_MAX + extra)
        case _:
            return (*draw(_ids(scope.fresh)), draw(bad_ulids(scope.fresh)))


@st.composite
def _bad_body(draw: st.DrawFn, scope: Scope, thread_id: str) -> CommandBody:
    """A body breaking one value rule: a bad id, an empty or oversize list, a bad text."""
    fresh = scope.fresh
    over = st.integers(1, 100)
    message = NewMessage(scope.ids(), "hello")
    match draw(st.sampled_from(["create", "accounts", "add", "remove"])):
        case "create":
            title = st.just("") | over.map(lambda n: "t" * (limits.TITLE_MAX + n))
            remarks = over.map(lambda n: "r" * (limits.REMARKS_MAX + n))
            parent = bad_ulids(fresh) | st.just(thread_id)
            no_ids: st.SearchStrategy[tuple[str, ...]] = st.just(())
            bad_ids = _bad_account_ids(scope, empty=False)
            return draw(
                st.one_of(
                    st.builds(domain.CreateThread, title, no_ids, no_ids),
                    st.builds(domain.CreateThread, st.just("t"), bad_ids, no_ids),
                    st.builds(domain.CreateThread, st.just("t"), no_ids, bad_ids),
                    st.builds(
                        domain.CreateThread, st.just("t"), no_ids, no_ids, parent_thread_id=parent
                    ),
                    st.builds(domain.CreateThread, st.just("t"), no_ids, no_ids, remarks=remarks),
                )
            )
        case "accounts":
            kinds: list[Callable[[tuple[str, ...]], CommandBody]] = [
                domain.JoinAdministratorIds,
                domain.LeaveAdministratorIds,
                domain.JoinMemberIds,
                domain.LeaveMemberIds,
            ]
            return draw(st.sampled_from(kinds))(draw(_bad_account_ids(scope, empty=True)))
        case "add":
            bad_text = st.just("") | over.map(lambda n: "m" * (limits.TEXT_MAX + n))
            too_many = (message,) * (limits.MESSAGES_PER_COMMAND_MAX + 1)
            messages = draw(
                st.one_of(
                    st.just(()),
                    st.just(too_many),
                    st.just((message, message)),  # one message id twice
                    bad_text.map(lambda text: (replace(message, text=text),)),
                    bad_ulids(fresh).map(lambda bad: (replace(message, message_id=bad),)),
                    bad_ulids(fresh).map(lambda bad: (replace(message, reply_message_id=bad),)),
                    _bad_account_ids(scope, empty=False).map(
                        lambda ids: (replace(message, to_account_ids=ids),)
                    ),
                )
            )
            return domain.AddMessages(messages)
        case _:
            extra = draw(st.integers(1, 20))
            too_many_ids = scope.ids.many(limits.MESSAGE_IDS_PER_COMMAND_MAX + extra)
            bad_id = (*draw(_ids(fresh)), draw(bad_ulids(fresh)))
            return domain.RemoveMessages(draw(st.sampled_from([(), too_many_ids, bad_id])))


def _with_id(command: Command, field: str, value: str) -> Command:
    match field:
        case "command_id":
            return replace(command, command_id=value)
        case "thread_id":
            return replace(command, thread_id=value)
        case _:
            return replace(command, sender_id=value)


@st.composite
def invalid_values(draw: st.DrawFn, scope: Scope) -> FuzzRecord:
    """A well-framed command that breaks a value rule, sent the way clients send commands.

    The pool's administrators send some: a rejected command of an administrator must not
    change the thread either."""
    index = draw(scope.pool_thread())
    thread = st.just(scope.pool.thread_ids[index]) | scope.fresh
    sender = st.just(scope.pool.admins[index]) | scope.fresh
    command = draw(commands(scope.fresh, thread, sender))
    where = draw(st.sampled_from(["body", "command_id", "thread_id", "sender_id"]))
    if where == "body":
        command = replace(command, body=draw(_bad_body(scope, command.thread_id)))
    else:
        command = _with_id(command, where, draw(bad_ulids(scope.fresh)))
    key, partition = _routed(command.thread_id, scope.partitions)
    value = encode_command(command)
    return FuzzRecord("invalid-values", value, key, partition, draw(_headers()), command)


_ID_FIELDS: Final = ("command_id", "thread_id", "sender_id")
_HUGE_FIELDS: Final = (
    *_ID_FIELDS,
    "title",
    "remarks",
    "text",
    "texts",
    "account_id",
    "reply_message_id",
    "to_account_ids",
)


def _huge_command(command: Command, field: str, filler: str, count: int, ids: FreshIds) -> Command:
    big = filler * count
    match field:
        case "command_id" | "thread_id" | "sender_id":
            return _with_id(command, field, big)
        case "title":
            return replace(command, body=domain.CreateThread(big, (), ()))
        case "remarks":
            return replace(command, body=domain.CreateThread("t", (), (), remarks=big))
        case "text":
            text = filler * max(count, limits.TEXT_MAX + 1)  # the limit counts characters
            return replace(command, body=domain.AddMessages((NewMessage(ids(), text),)))
        case "texts":
            # Every text within its limit, their total over the command's byte limit.
            least = limits.MESSAGES_TEXT_BYTES_MAX // len(filler.encode()) + 1
            chars = max(count, least)
            per = min(limits.TEXT_MAX, -(-chars // limits.MESSAGES_PER_COMMAND_MAX))
            texts = tuple(NewMessage(ids(), filler * per) for _ in range(-(-chars // per)))
            return replace(command, body=domain.AddMessages(texts))
        case "account_id":
            return replace(command, body=domain.JoinMemberIds((ids(), big)))
        case "reply_message_id":
            return replace(command, body=domain.AddMessages((NewMessage(ids(), "m", big),)))
        case _:
            # Far more recipients than one command may name (an id takes 27 bytes).
            recipients = ids.many(max(limits.ACCOUNT_IDS_PER_COMMAND_MAX + 1, count // 27))
            return replace(
                command, body=domain.AddMessages((NewMessage(ids(), "m", None, recipients),))
            )


@st.composite
def huge(draw: st.DrawFn, scope: Scope) -> FuzzRecord:
    """One field far over its limit, up to the largest record a client can produce."""
    index = draw(scope.pool_thread())
    thread = st.just(scope.pool.thread_ids[index]) | scope.fresh
    command = draw(commands(scope.fresh, thread, st.just(scope.pool.admins[index])))
    field = draw(st.sampled_from(_HUGE_FIELDS))
    filler = draw(st.sampled_from(["x", "\x00", "é", "€", "😀"]))
    width = len(filler.encode())
    target = draw(
        st.integers(2 * limits.TEXT_MAX, 64_000)
        | st.integers(limits.MESSAGES_TEXT_BYTES_MAX, RECORD_MAX)
        | st.just(RECORD_MAX)
    )
    if field == "to_account_ids":
        target = min(target, RECORD_MAX // 2)  # their Python strings take ~3x more memory
    count = max(1, (target - len(encode_command(command))) // width)
    while True:
        built = _huge_command(command, field, filler, count, scope.ids)
        value = encode_command(built)
        # The key is the thread id as usual, unless the two would not fit one record.
        thread_key, right = _routed(built.thread_id, scope.partitions)
        key = thread_key if len(thread_key) + len(value) <= RECORD_MAX else None
        excess = len(value) + len(key or b"") - RECORD_MAX
        if excess <= 0:
            break
        count -= max(excess // width + 1, count // 100)
    partition = draw(st.sampled_from([right, (right + 1) % scope.partitions]))
    return FuzzRecord("huge", value, key, partition, broken=built)


@st.composite
def wrong_key(draw: st.DrawFn, scope: Scope) -> FuzzRecord:
    """A command under another key: in the partition that key picks, or in its thread's."""
    command = draw(_stranger_command(scope))
    thread_key, right = _routed(command.thread_id, scope.partitions)
    others = st.sampled_from(scope.pool.thread_ids).map(str.encode)
    key = draw(
        st.one_of(
            st.none(),
            st.just(b""),
            st.just(thread_key.lower()),
            st.binary(min_size=1, max_size=40),
            scope.fresh.map(str.encode),
            others.filter(lambda other: other != thread_key),
        )
    )
    choices = [None, right, (right + 1) % scope.partitions]
    if key is not None:
        choices.append(partition_for(key, scope.partitions))
    partition = draw(st.sampled_from(choices))
    value = encode_command(command)
    return FuzzRecord("wrong-key", value, key, partition, draw(_headers()))


def fuzz_records(scope: Scope) -> st.SearchStrategy[FuzzRecord]:
    common = st.one_of(
        random_bytes(scope),
        random_bytes(scope),
        mutated(scope),
        mutated(scope),
        mutated(scope),
        unknown_fingerprint(scope),
        invalid_values(scope),
        invalid_values(scope),
        wrong_key(scope),
    )
    return st.sampled_from(range(HUGE_ONE_IN)).flatmap(lambda n: huge(scope) if n == 0 else common)
