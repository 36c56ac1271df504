"""The HTTP contract as pydantic models: the types of ids and texts, the request bodies, the
parameters' types and the answers. The OpenAPI document (`api.openapi`) is generated from
them and the route table; the request runner (`api.spec`) validates with them.

Two strengths of check, as before pydantic:
- parameters (path, query, header; `api.queries`, `api.commands`) are checked fully by
  their models: no other layer looks at them;
- request bodies are checked for their JSON shape only (types, required fields, no unknown
  field: a misspelt optional field must not be silently ignored). Their value rules
  (lengths, ULIDs, bounds) are written once, in `pipeline.domain.validation`, which the
  worker applies too; `Documented` still puts them in the document, from the domain's
  constants.

Answers are TypedDicts: handlers build plain dicts that mypy checks against them, orjson
encodes them, and pydantic generates their schema. Building validated models from rows we
read ourselves would check our own output on every request (docs/adr/0014).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    with_config,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from typing_extensions import TypedDict

from api.errors import REASONS
from pipeline.domain import limits
from pipeline.domain.ids import CROCKFORD

ULID_PATTERN = f"^[0-7][{CROCKFORD}]{{25}}$"
ULID_EXAMPLE = "01KAB00000000000000000000A"
ULID_MESSAGE = "must be a ULID (26 Crockford base32 characters)"


class Documented:
    """JSON Schema keywords for the document only: pydantic does not check them (the domain
    does, or they describe our own answers)."""

    __slots__ = ("keywords",)

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(self.keywords)
        return json_schema


class ParamIn(StrEnum):
    """Where a parameter model's field travels (its OpenAPI `in`)."""

    PATH = "path"
    QUERY = "query"
    HEADER = "header"


PATH, QUERY, HEADER = ParamIn.PATH, ParamIn.QUERY, ParamIn.HEADER

_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")


def _integer_text(value: object) -> object:
    """A parameter's text as its int when written plainly (digits and a sign): pydantic's own
    parsing of text would also take ' 5', '5_000' and '5.0'."""
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return value


# For an integer parameter, around a strict `int` with its bounds:
# `Annotated[Annotated[int, Strict(), Ge(1)], PLAIN_INTEGER]`.
PLAIN_INTEGER = BeforeValidator(_integer_text)

_ULID_DOC = Documented(minLength=26, maxLength=26, examples=[ULID_EXAMPLE])
# A ULID in a body or an answer: a string to pydantic, its value checked by the domain.
UlidText = Annotated[str, Documented(pattern=ULID_PATTERN), _ULID_DOC]
# A ULID parameter, checked here.
Ulid = Annotated[str, StringConstraints(pattern=ULID_PATTERN), _ULID_DOC]
Timestamp = Annotated[str, Documented(format="date-time", description="ISO-8601 UTC, milliseconds")]
Title = Annotated[str, Documented(minLength=1, maxLength=limits.TITLE_MAX)]
Remarks = Annotated[str, Documented(maxLength=limits.REMARKS_MAX)]
Text = Annotated[str, Documented(minLength=1, maxLength=limits.TEXT_MAX)]
AccountIds = Annotated[list[UlidText], Documented(maxItems=limits.ACCOUNT_IDS_PER_COMMAND_MAX)]


# --- request bodies: JSON shape only --------------------------------------------------------


class _Body(BaseModel):
    # strict: JSON has no "7" for 7; forbid: an unknown field is a problem of its own.
    model_config = ConfigDict(strict=True, extra="forbid")


class _CommandBody(_Body):
    account_id: Annotated[
        UlidText | None,
        Field(
            description="the acting account (the sender); default: the bearer token's "
            "account, any other is a 403 (required only when the API runs without "
            "authentication)"
        ),
    ] = None


class CreateThreadRequest(_CommandBody):
    title: Title
    remarks: Remarks | None = None
    parent_thread_id: UlidText | None = None
    administrator_ids: Annotated[
        AccountIds, Field(description="besides the sender, who always is one")
    ]
    member_ids: Annotated[AccountIds, Field(description="the members")]


class DestroyThreadRequest(_CommandBody):
    pass


class AccountIdsRequest(_CommandBody):
    account_ids: Annotated[AccountIds, Field(description="accounts to add or remove")]


class NewMessage(_Body):
    text: Text
    reply_message_id: Annotated[
        UlidText | None,
        Field(description="a live message of the thread (or an earlier one of this request)"),
    ] = None
    to_account_ids: Annotated[
        AccountIds | None, Field(description="recipients: participants of the thread")
    ] = None


class AddMessagesRequest(_CommandBody):
    messages: Annotated[list[NewMessage], Documented(maxItems=limits.MESSAGES_PER_COMMAND_MAX)]


class RemoveMessagesRequest(_CommandBody):
    message_ids: Annotated[
        list[UlidText],
        Documented(maxItems=limits.MESSAGE_IDS_PER_COMMAND_MAX),
        Field(description="messages to remove"),
    ]


# --- answers ----------------------------------------------------------------------------------

_ANSWER = ConfigDict(extra="forbid")
NextCursor = Annotated[
    str | None, Field(description="pass as `cursor` for the next page; null on the last page")
]


@with_config(_ANSWER)
class Thread(TypedDict):
    id: UlidText
    creator_id: UlidText
    parent_thread_id: UlidText | None
    title: Title
    remarks: Remarks | None
    created_at: Timestamp
    updated_at: Timestamp
    version: Annotated[int, Field(ge=1, description="seq_nr of the last event applied")]


@with_config(_ANSWER)
class Message(TypedDict):
    id: UlidText
    sender_id: UlidText
    text: Text
    reply_message_id: UlidText | None
    to_account_ids: list[UlidText]
    created_at: Timestamp


@with_config(_ANSWER)
class ThreadResponse(TypedDict):
    thread: Thread


@with_config(_ANSWER)
class ThreadPage(TypedDict):
    threads: list[Thread]
    next_cursor: NextCursor


@with_config(_ANSWER)
class AccountIdPage(TypedDict):
    account_ids: list[UlidText]
    next_cursor: NextCursor


@with_config(_ANSWER)
class MessagePage(TypedDict):
    messages: list[Message]
    next_cursor: NextCursor


class _CommandResultFields(TypedDict):
    thread_id: UlidText
    command_id: Annotated[
        UlidText, Field(description="the Idempotency-Key, or the one the API chose")
    ]
    version: Annotated[int, Field(ge=1, description="the thread's version after the command")]


@with_config(_ANSWER)
class CommandResult(_CommandResultFields):
    pass


@with_config(_ANSWER)
class MessagesCommandResult(_CommandResultFields):
    message_ids: Annotated[
        list[UlidText], Field(description="ids of the added messages / the messages removed")
    ]


Reason = Annotated[str, Documented(enum=list(REASONS))]


class _ErrorFields(TypedDict):
    error_messages: Annotated[list[str], Field(description="one message per problem")]
    reason: Reason


@with_config(_ANSWER)
class Error(_ErrorFields):
    pass


@with_config(_ANSWER)
class StaleView(_ErrorFields):
    """min_version not reached in time; `version` is null if the thread is not visible to the
    caller"""

    version: Annotated[int | None, Field(ge=0, description="the version the read model has")]


@with_config(_ANSWER)
class ReplyTimeout(_ErrorFields):
    """The command may still be applied: retry with `Idempotency-Key: <command_id>`, the same
    command, never applied twice"""

    command_id: UlidText
    thread_id: UlidText


@with_config(_ANSWER)
class Health(TypedDict):
    status: Literal["ok"]


@with_config(_ANSWER)
class ReadinessChecks(TypedDict):
    postgres: str
    kafka: str


@with_config(_ANSWER)
class Readiness(TypedDict):
    status: Literal["ready", "unavailable"]
    checks: ReadinessChecks
    error_messages: NotRequired[list[str]]
    reason: NotRequired[str]
