"""Every command, event and reply survives encode -> decode unchanged."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings

from pipeline import codec
from pipeline.domain.commands import Command, CommandBody, DestroyThread
from pipeline.domain.events import Event, EventBody
from pipeline.kafka.replies import Reply
from tests.unit.codec import strategies as s

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("body", s.COMMAND_BODY_EXAMPLES, ids=repr)
def test_command_round_trip(body: Any) -> None:
    command = s.command_with(body)
    assert codec.decode_command(codec.encode_command(command)) == command


@pytest.mark.parametrize("body", s.EVENT_BODY_EXAMPLES, ids=repr)
def test_event_round_trip(body: Any) -> None:
    event = s.event_with(body)
    assert codec.decode_event(codec.encode_event(event)) == event


@pytest.mark.parametrize("reply", s.REPLY_EXAMPLES, ids=repr)
def test_reply_round_trip(reply: Any) -> None:
    assert codec.decode_reply(codec.encode_reply(reply)) == reply


def test_examples_cover_every_type() -> None:
    assert {type(b) for b in s.COMMAND_BODY_EXAMPLES} == set(typing.get_args(CommandBody))
    assert {type(b) for b in s.EVENT_BODY_EXAMPLES} == set(typing.get_args(EventBody))
    assert {type(r) for r in s.REPLY_EXAMPLES} == set(typing.get_args(Reply))


def test_strategies_cover_every_type() -> None:
    assert set(s.COMMAND_BODIES) == set(typing.get_args(CommandBody))
    assert set(s.EVENT_BODIES) == set(typing.get_args(EventBody))
    assert set(s.REPLIES) == set(typing.get_args(Reply))


@settings(max_examples=300)
@given(s.commands)
def test_any_command_round_trips(command: Command) -> None:
    assert codec.decode_command(codec.encode_command(command)) == command


@settings(max_examples=300)
@given(s.events)
def test_any_event_round_trips(event: Event) -> None:
    assert codec.decode_event(codec.encode_event(event)) == event


@settings(max_examples=200)
@given(s.replies)
def test_any_reply_round_trips(reply: Reply) -> None:
    assert codec.decode_reply(codec.encode_reply(reply)) == reply


def test_decoded_times_are_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    command = s.command_with(
        DestroyThread(), requested_at=datetime(2026, 1, 1, 14, tzinfo=plus_two)
    )
    decoded = codec.decode_command(codec.encode_command(command)).requested_at
    assert decoded == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert decoded.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("given_time", "expected"),
    [
        (datetime(2026, 1, 1, 0, 0, 0, 123_456, UTC), datetime(2026, 1, 1, 0, 0, 0, 123_000, UTC)),
        # Floor, not towards zero: still the last millisecond of 1969.
        (
            datetime(1969, 12, 31, 23, 59, 59, 999_999, UTC),
            datetime(1969, 12, 31, 23, 59, 59, 999_000, UTC),
        ),
    ],
)
def test_sub_millisecond_digits_are_dropped(given_time: datetime, expected: datetime) -> None:
    command = s.command_with(DestroyThread(), requested_at=given_time)
    assert codec.decode_command(codec.encode_command(command)).requested_at == expected


def test_encoding_is_deterministic() -> None:
    # Re-processing a command must re-create byte-identical events (docs/architecture.md,
    # Deterministic decisions).
    event = s.event_with(s.EVENT_BODY_EXAMPLES[-2])
    assert codec.encode_event(event) == codec.encode_event(
        codec.decode_event(codec.encode_event(event))
    )
