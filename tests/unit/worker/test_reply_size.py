"""A reply fits a Kafka record whatever the command held (found by tests/fuzz: a command
with a 500 kB thread id got a reply of twice that, producing it failed, and the worker
stopped on the same record after every restart)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.codec import encode_command, encode_reply
from pipeline.domain import JoinMemberIds, RejectionReason, decide
from pipeline.kafka.records import Record
from pipeline.kafka.replies import CommandRejected
from pipeline.worker.handling import (
    REPLY_ID_MAX_CHARS,
    REPLY_MESSAGE_MAX_CHARS,
    context_for,
    misrouted,
    reply_for,
    shown,
)
from tests.support.builders import command, create, ulid

pytestmark = pytest.mark.unit

# Two ids, a message and the key at up to 4 UTF-8 bytes a character: a few kB, whatever the
# command's size (librdkafka's default record limit is 1,000,000 bytes).
REPLY_BYTES_MAX = 4 * (3 * REPLY_ID_MAX_CHARS + REPLY_MESSAGE_MAX_CHARS) + 100


def test_a_rejection_of_a_command_with_huge_ids_is_small() -> None:
    huge = replace(create(), command_id="c" * 450_000, thread_id="😀" * 120_000)
    decision = decide(None, huge, context_for(0, 1))
    reply = reply_for(huge, decision)
    assert isinstance(reply, CommandRejected)
    assert reply.reason is RejectionReason.INVALID_COMMAND
    assert len(encode_command(huge)) > 900_000
    assert len(encode_reply(reply)) + len(reply.thread_id.encode()) < REPLY_BYTES_MAX
    assert reply.command_id == "c" * (REPLY_ID_MAX_CHARS - 1) + "\u2026"


def test_a_rejection_listing_thousands_of_problems_is_cut() -> None:
    bad_ids = tuple(f"not-a-ulid-{i}" for i in range(1000))
    invalid = command(JoinMemberIds(bad_ids))
    reply = reply_for(invalid, decide(None, invalid, context_for(0, 1)))
    assert isinstance(reply, CommandRejected)
    assert len(reply.message) == REPLY_MESSAGE_MAX_CHARS
    assert reply.message.startswith("account_ids[0]: must be a ULID")


def test_a_misrouted_huge_thread_id_is_not_repeated_in_full() -> None:
    huge = replace(create(), thread_id="t" * 500_000)
    assert len(misrouted(huge, 0, 1).message) < 2 * REPLY_ID_MAX_CHARS


def test_ulids_and_short_texts_are_shown_whole() -> None:
    thread = ulid()
    valid = replace(create(), thread_id=thread)
    reply = reply_for(valid, decide(None, valid, context_for(0, 1)))
    assert (reply.command_id, reply.thread_id) == (valid.command_id, thread)
    assert shown("x" * REPLY_ID_MAX_CHARS) == "x" * REPLY_ID_MAX_CHARS


def test_a_dead_letter_carries_only_the_workers_own_reason_and_source() -> None:
    forged = Record(
        topic="threadweaver.thread-commands",
        partition=2,
        offset=41,
        timestamp_ms=0,
        key=b"k",
        value=b"v",
        headers=(
            ("threadweaver-dlq-reason", b"FORGED"),
            ("threadweaver-source-offset", b"999"),
            ("trace-id", b"abc"),
        ),
    )
    headers = forged.dead_letter_headers("UNDECODABLE", "bad bytes")
    names = [name for name, _ in headers]
    assert names.count("threadweaver-dlq-reason") == 1
    assert names.count("threadweaver-source-offset") == 1
    assert dict(headers)["threadweaver-dlq-reason"] == b"UNDECODABLE"
    assert dict(headers)["threadweaver-source-offset"] == b"41"
    assert ("trace-id", b"abc") in headers
