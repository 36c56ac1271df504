"""Building commands from HTTP bodies: generated ids derived from the command id, so a retry
with the same Idempotency-Key is the same command."""

from __future__ import annotations

import pytest

from api.commands import build_add_messages, build_create, derived_id
from api.models import AddMessagesRequest, CreateThreadRequest
from pipeline.domain import AddMessages, CreateThread
from pipeline.domain.ids import is_ulid
from tests.support.builders import ALICE, BOB, THREAD, ulid

pytestmark = pytest.mark.unit

KEY = ulid(42)


def create_body() -> CreateThreadRequest:
    return CreateThreadRequest(
        account_id=ALICE,
        title="Lunch",
        remarks=None,
        parent_thread_id=THREAD,
        administrator_ids=[],
        member_ids=[BOB],
    )


def test_a_retry_builds_the_same_thread_id() -> None:
    first = build_create(create_body(), ALICE, "", KEY)
    again = build_create(create_body(), ALICE, "", KEY)
    assert first.thread_id == again.thread_id
    assert first.command_id == KEY
    assert is_ulid(first.thread_id)
    assert first.thread_id != KEY
    assert build_create(create_body(), ALICE, "", ulid(43)).thread_id != first.thread_id
    assert isinstance(first.body, CreateThread)
    assert first.body.parent_thread_id == THREAD
    assert first.sender_id == ALICE


def test_message_ids_are_stable_and_in_request_order() -> None:
    body = AddMessagesRequest.model_validate(
        {
            "account_id": ALICE,
            "messages": [
                {"text": str(n), "reply_message_id": None, "to_account_ids": None}
                for n in range(100)
            ],
        },
    )
    command = build_add_messages(body, ALICE, THREAD, KEY)
    assert isinstance(command.body, AddMessages)
    ids = [m.message_id for m in command.body.messages]
    assert ids == sorted(ids)
    assert len(set(ids)) == 100
    assert all(is_ulid(i) for i in ids)
    again = build_add_messages(body, ALICE, THREAD, KEY)
    assert isinstance(again.body, AddMessages)
    assert [m.message_id for m in again.body.messages] == ids


def test_derived_ids_keep_the_command_time() -> None:
    key = "01KAB00000000000000000000A"
    assert derived_id(key, "thread")[:10] == key[:10]
    assert derived_id("not a ulid", "thread")[:10] == "0000000000"
