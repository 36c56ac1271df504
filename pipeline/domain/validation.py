"""Value rules of commands: one `Problem` per bad field, named as on the wire.

The same function backs the worker's INVALID_COMMAND rejections and the API's 422
responses, so a rule is written once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import assert_never

from pipeline.domain import limits
from pipeline.domain.commands import (
    AddMessages,
    Command,
    CreateThread,
    DestroyThread,
    JoinAdministratorIds,
    JoinMemberIds,
    LeaveAdministratorIds,
    LeaveMemberIds,
    RemoveMessages,
)
from pipeline.domain.ids import is_ulid


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _ulid(field: str, value: object) -> Iterator[Problem]:
    if not is_ulid(value):
        yield Problem(field, "must be a ULID (26 Crockford base32 characters)")


def _ulid_list(
    field: str, values: Sequence[object], *, maximum: int, allow_empty: bool = False
) -> Iterator[Problem]:
    if not values and not allow_empty:
        yield Problem(field, "must not be empty")
    if len(values) > maximum:
        yield Problem(field, f"must have at most {maximum} items")
        return
    for index, value in enumerate(values):
        yield from _ulid(f"{field}[{index}]", value)


def _text(field: str, value: object, *, minimum: int, maximum: int) -> Iterator[Problem]:
    if not isinstance(value, str):
        yield Problem(field, "must be a string")
    elif not minimum <= len(value) <= maximum:
        yield Problem(field, f"must be {minimum}..{maximum} characters long")


def _body_problems(command: Command) -> Iterator[Problem]:
    body = command.body
    match body:
        case CreateThread():
            yield from _text("title", body.title, minimum=1, maximum=limits.TITLE_MAX)
            if body.remarks is not None:
                yield from _text("remarks", body.remarks, minimum=0, maximum=limits.REMARKS_MAX)
            if body.parent_thread_id is not None:
                yield from _ulid("parent_thread_id", body.parent_thread_id)
                if body.parent_thread_id == command.thread_id:
                    yield Problem("parent_thread_id", "must differ from the thread's own id")
            # The creator is always an administrator, so an empty list is allowed here.
            yield from _ulid_list(
                "administrator_ids",
                body.administrator_ids,
                maximum=limits.ACCOUNT_IDS_PER_COMMAND_MAX,
                allow_empty=True,
            )
            yield from _ulid_list(
                "member_ids",
                body.member_ids,
                maximum=limits.ACCOUNT_IDS_PER_COMMAND_MAX,
                allow_empty=True,
            )
        case DestroyThread():
            pass
        case JoinAdministratorIds() | LeaveAdministratorIds() | JoinMemberIds() | LeaveMemberIds():
            yield from _ulid_list(
                "account_ids", body.account_ids, maximum=limits.ACCOUNT_IDS_PER_COMMAND_MAX
            )
        case AddMessages():
            if not body.messages:
                yield Problem("messages", "must not be empty")
            if len(body.messages) > limits.MESSAGES_PER_COMMAND_MAX:
                yield Problem(
                    "messages", f"must have at most {limits.MESSAGES_PER_COMMAND_MAX} items"
                )
                return
            total = sum(len(m.text.encode()) for m in body.messages if isinstance(m.text, str))
            if total > limits.MESSAGES_TEXT_BYTES_MAX:
                yield Problem(
                    "messages",
                    f"texts must total at most {limits.MESSAGES_TEXT_BYTES_MAX} bytes (UTF-8)",
                )
            recipients = sum(
                len(m.to_account_ids) for m in body.messages if isinstance(m.to_account_ids, tuple)
            )
            if recipients > limits.RECIPIENTS_PER_COMMAND_MAX:
                yield Problem(
                    "messages",
                    f"to_account_ids must total at most {limits.RECIPIENTS_PER_COMMAND_MAX} "
                    "recipients over all messages",
                )
            seen: set[str] = set()
            for index, message in enumerate(body.messages):
                prefix = f"messages[{index}]"
                yield from _ulid(f"{prefix}.message_id", message.message_id)
                if message.message_id in seen:
                    yield Problem(f"{prefix}.message_id", "is repeated within the command")
                seen.add(message.message_id)
                yield from _text(f"{prefix}.text", message.text, minimum=1, maximum=limits.TEXT_MAX)
                if message.reply_message_id is not None:
                    yield from _ulid(f"{prefix}.reply_message_id", message.reply_message_id)
                yield from _ulid_list(
                    f"{prefix}.to_account_ids",
                    message.to_account_ids,
                    maximum=limits.ACCOUNT_IDS_PER_COMMAND_MAX,
                    allow_empty=True,
                )
        case RemoveMessages():
            yield from _ulid_list(
                "message_ids", body.message_ids, maximum=limits.MESSAGE_IDS_PER_COMMAND_MAX
            )
        case _:
            assert_never(body)


def validate_command(command: Command) -> tuple[Problem, ...]:
    """Every value-rule violation of `command`; empty when the command is well-formed."""
    problems = [
        *_ulid("command_id", command.command_id),
        *_ulid("thread_id", command.thread_id),
        *_ulid("sender_id", command.sender_id),
        *_body_problems(command),
    ]
    return tuple(problems)
