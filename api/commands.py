"""Command endpoints: their parameter models (the thread in the path, `Idempotency-Key`),
the domain command built from the shape-checked body and checked by the domain's rules,
produced through the client library; the worker's reply mapped to HTTP
(docs/adr/0007-http-api.md).

Idempotency: the `Idempotency-Key` header is the command id. The ids the API generates for
the caller (the new thread's id, the new messages' ids) are DERIVED from the command id, so a
retry with the same key is the very same command: it goes to the same thread's partition and
gets the original reply from the worker (ADR 0002), even after a 504.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from confluent_kafka import KafkaException
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from api.errors import ApiError, HttpReason, rejection
from api.metrics import COMMANDS
from api.models import (
    HEADER,
    PATH,
    AccountIdsRequest,
    AddMessagesRequest,
    CommandResult,
    CreateThreadRequest,
    DestroyThreadRequest,
    MessagesCommandResult,
    RemoveMessagesRequest,
    Ulid,
)
from api.responses import JsonResponse
from api.services import services
from api.spec import Call
from pipeline.client import CommandFactory, ReplyTimeoutError
from pipeline.client.commands import new_id
from pipeline.domain import Command, NewMessage, Problem, validate_command
from pipeline.domain.ids import CROCKFORD, is_ulid, ulid_from_parts
from pipeline.kafka.producer import DeliveryError
from pipeline.kafka.replies import CommandAccepted, CommandRejected

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY = "Idempotency-Key"
# Domain field names that the HTTP API spells differently.
_WIRE_NAMES = {"sender_id": "account_id", "command_id": IDEMPOTENCY_KEY}
# A valid id to build a command for its value checks when the caller sent no key.
_PLACEHOLDER_ID = "00000000000000000000000000"

_factory = CommandFactory()

# (body, sender, the path's thread id ("" for a create), command id) -> the command.
Build = Callable[[Any, str, str, str], Command]

# --- parameters ------------------------------------------------------------------------------

IdempotencyKey = Annotated[
    Ulid | None,
    HEADER,
    Field(
        alias=IDEMPOTENCY_KEY,
        description="the command id: a retry with the same key is the same command (never "
        "applied twice) and gets the original answer; default: a fresh id",
    ),
]


class CreateParams(BaseModel):
    idempotency_key: IdempotencyKey = None


class ThreadCommandParams(BaseModel):
    thread_id: Annotated[Ulid, PATH]
    idempotency_key: IdempotencyKey = None


def derived_id(command_id: str, purpose: str, index: int | None = None) -> str:
    """A ULID with the command id's time and a hash of (command, purpose) as randomness.

    With an index, it fills the low 16 bits, so the ids of one command's messages sort in
    request order (messages are listed in id order).
    """
    timestamp_ms = 0
    if is_ulid(command_id):
        for char in command_id[:10]:
            timestamp_ms = timestamp_ms * 32 + CROCKFORD.index(char)
    digest = hashlib.blake2b(f"{command_id}/{purpose}".encode(), digest_size=10).digest()
    randomness = int.from_bytes(digest, "big")
    if index is not None:
        randomness = (randomness & ~0xFFFF) | index
    return ulid_from_parts(timestamp_ms, randomness)


def build_create(
    body: CreateThreadRequest, sender: str, _thread_id: str, command_id: str
) -> Command:
    return _factory.create_thread(
        sender,
        body.title,
        administrator_ids=body.administrator_ids,
        member_ids=body.member_ids,
        parent_thread_id=body.parent_thread_id,
        remarks=body.remarks,
        thread_id=derived_id(command_id, "thread"),
        command_id=command_id,
    )


def build_destroy(
    _body: DestroyThreadRequest, sender: str, thread_id: str, command_id: str
) -> Command:
    return _factory.destroy_thread(thread_id, sender, command_id)


def _account_ids(
    method: Callable[[CommandFactory, str, str, Sequence[str], str | None], Command],
) -> Build:
    def build(body: AccountIdsRequest, sender: str, thread_id: str, command_id: str) -> Command:
        return method(_factory, thread_id, sender, body.account_ids, command_id)

    return build


build_join_administrators = _account_ids(CommandFactory.join_administrators)
build_leave_administrators = _account_ids(CommandFactory.leave_administrators)
build_join_members = _account_ids(CommandFactory.join_members)
build_leave_members = _account_ids(CommandFactory.leave_members)


def build_add_messages(
    body: AddMessagesRequest, sender: str, thread_id: str, command_id: str
) -> Command:
    messages = [
        NewMessage(
            message_id=derived_id(command_id, "message", index),
            text=message.text,
            reply_message_id=message.reply_message_id,
            to_account_ids=tuple(message.to_account_ids or ()),
        )
        for index, message in enumerate(body.messages)
    ]
    return _factory.add_messages(thread_id, sender, messages, command_id)


def build_remove_messages(
    body: RemoveMessagesRequest, sender: str, thread_id: str, command_id: str
) -> Command:
    return _factory.remove_messages(thread_id, sender, body.message_ids, command_id)


@dataclass(frozen=True, slots=True)
class CommandRoute:
    build: Build
    # AddMessages / RemoveMessages answer with the ids added / actually removed.
    with_message_ids: bool = False

    def check(self, raw: Mapping[str, str], account: str, body: Any) -> Sequence[Problem]:
        """The domain's value rules (written once, in pipeline.domain.validation), with the
        problems named as the HTTP request spells the fields."""
        key = raw.get(IDEMPOTENCY_KEY) or _PLACEHOLDER_ID
        command = self.build(body, account, raw.get("thread_id", ""), key)
        return [
            Problem(_WIRE_NAMES.get(problem.field, problem.field), problem.message)
            for problem in validate_command(command)
        ]

    async def handle(
        self, request: Request, call: Call[CreateParams | ThreadCommandParams, Any]
    ) -> Response:
        s, params = services(request), call.params
        thread_id = params.thread_id if isinstance(params, ThreadCommandParams) else ""
        command = self.build(call.body, call.account, thread_id, params.idempotency_key or new_id())
        # The ids a grep of the logs follows through the worker and the projector.
        ids = {"command_id": command.command_id, "thread_id": command.thread_id}
        log.debug("command %s from %s: sending", command.name, call.account, extra=ids)
        try:
            reply = await s.client.send(command, timeout=s.settings.reply_timeout_s)
        except ReplyTimeoutError as exc:
            COMMANDS.labels(command.name, "timeout", "").inc()
            log.warning("command %s: no reply in time", command.name, extra=ids)
            raise ApiError(
                504,
                HttpReason.REPLY_TIMEOUT,
                [
                    f"no reply within {s.settings.reply_timeout_s:g} s; the command may still "
                    f"be applied: send it again with the header "
                    f"{IDEMPOTENCY_KEY}: {command.command_id} to learn its outcome"
                ],
                command_id=command.command_id,
                thread_id=command.thread_id,
            ) from exc
        except (DeliveryError, KafkaException, BufferError) as exc:
            COMMANDS.labels(command.name, "error", "").inc()
            log.warning("command %s: not sent (%s)", command.name, exc, extra=ids)
            raise ApiError(
                503,
                HttpReason.UNAVAILABLE,
                [
                    f"the command could not be sent to Kafka ({exc}); retry with the header "
                    f"{IDEMPOTENCY_KEY}: {command.command_id}"
                ],
                command_id=command.command_id,
                thread_id=command.thread_id,
            ) from exc
        match reply:
            case CommandAccepted():
                COMMANDS.labels(command.name, "accepted", "").inc()
                log.debug(
                    "command %s: accepted at version %d", command.name, reply.version, extra=ids
                )
                if self.with_message_ids:
                    with_ids: MessagesCommandResult = {
                        "thread_id": reply.thread_id,
                        "command_id": reply.command_id,
                        "version": reply.version,
                        "message_ids": list(reply.message_ids),
                    }
                    return JsonResponse(with_ids)
                result: CommandResult = {
                    "thread_id": reply.thread_id,
                    "command_id": reply.command_id,
                    "version": reply.version,
                }
                return JsonResponse(result)
            case CommandRejected():
                COMMANDS.labels(command.name, "rejected", reply.reason.value).inc()
                log.debug("command %s: rejected (%s)", command.name, reply.reason.value, extra=ids)
                raise rejection(reply.reason, reply.message)
