"""THE route table: every endpoint with its parameters, body and responses.

The Starlette routes (`api.app`), the request checks (`api.spec.run`) and the OpenAPI
document (`api.openapi`) are all built from `ENDPOINTS`, so none can disagree with another.
Contract: docs/architecture.md, HTTP API; choices: docs/adr/0007-http-api.md.
"""

from __future__ import annotations

from collections.abc import Callable

from api import operations, queries
from api.commands import (
    IDEMPOTENCY_KEY,
    CommandRoute,
    build_add_messages,
    build_create,
    build_destroy,
    build_join_administrators,
    build_join_members,
    build_leave_administrators,
    build_leave_members,
    build_remove_messages,
)
from api.errors import REASONS
from api.schema import Array, Integer, Object, Prop, String, Ulid
from api.spec import Endpoint, Handler, Param, Reply
from pipeline.domain import RejectionReason, limits

# --- schemas -------------------------------------------------------------------------------

TIMESTAMP = String(description="ISO-8601 UTC, milliseconds", format="date-time")
NEXT_CURSOR = Prop(
    "next_cursor",
    String(description="pass as `cursor` for the next page; null on the last page"),
    nullable=True,
)


def _ulids(description: str, maximum: int = limits.ACCOUNT_IDS_PER_COMMAND_MAX) -> Array:
    return Array(Ulid(), description=description, max_items=maximum)


THREAD = Object(
    "Thread",
    [
        Prop("id", Ulid()),
        Prop("creator_id", Ulid()),
        Prop("parent_thread_id", Ulid(), nullable=True),
        Prop("title", String(min_length=1, max_length=limits.TITLE_MAX)),
        Prop("remarks", String(max_length=limits.REMARKS_MAX), nullable=True),
        Prop("created_at", TIMESTAMP),
        Prop("updated_at", TIMESTAMP),
        Prop("version", Integer(minimum=1, description="seq_nr of the last event applied")),
    ],
)
MESSAGE = Object(
    "Message",
    [
        Prop("id", Ulid()),
        Prop("sender_id", Ulid()),
        Prop("text", String(min_length=1, max_length=limits.TEXT_MAX)),
        Prop("reply_message_id", Ulid(), nullable=True),
        Prop("to_account_ids", Array(Ulid())),
        Prop("created_at", TIMESTAMP),
    ],
)
THREAD_RESPONSE = Object("ThreadResponse", [Prop("thread", THREAD)])
THREAD_PAGE = Object("ThreadPage", [Prop("threads", Array(THREAD)), NEXT_CURSOR])
ACCOUNT_ID_PAGE = Object("AccountIdPage", [Prop("account_ids", Array(Ulid())), NEXT_CURSOR])
MESSAGE_PAGE = Object("MessagePage", [Prop("messages", Array(MESSAGE)), NEXT_CURSOR])

_RESULT_PROPS = [
    Prop("thread_id", Ulid()),
    Prop("command_id", Ulid(description="the Idempotency-Key, or the one the API chose")),
    Prop("version", Integer(minimum=1, description="the thread's version after the command")),
]
COMMAND_RESULT = Object("CommandResult", _RESULT_PROPS)
MESSAGES_RESULT = Object(
    "MessagesCommandResult",
    [
        *_RESULT_PROPS,
        Prop(
            "message_ids",
            Array(Ulid(), description="ids of the added messages / the messages removed"),
        ),
    ],
)

_ERROR_PROPS = [
    Prop("error_messages", Array(String(), description="one message per problem")),
    Prop("reason", String(enum=REASONS)),
]
ERROR = Object("Error", _ERROR_PROPS)
STALE_VIEW = Object(
    "StaleView",
    [
        *_ERROR_PROPS,
        Prop(
            "version",
            Integer(minimum=0, description="the version the read model has"),
            nullable=True,
        ),
    ],
    description="min_version not reached in time; `version` is null if the thread is not "
    "visible to the caller",
)
REPLY_TIMEOUT = Object(
    "ReplyTimeout",
    [*_ERROR_PROPS, Prop("command_id", Ulid()), Prop("thread_id", Ulid())],
    description="retry with `Idempotency-Key: <command_id>`: the same command, never twice",
)
HEALTH = Object("Health", [Prop("status", String(enum=("ok",)))])
READINESS = Object(
    "Readiness",
    [
        Prop("status", String(enum=("ready", "unavailable"))),
        Prop(
            "checks",
            Object("ReadinessChecks", [Prop("postgres", String()), Prop("kafka", String())]),
        ),
        Prop("error_messages", Array(String()), required=False),
        Prop("reason", String(), required=False),
    ],
)

_sender = Prop(
    "account_id",
    Ulid(
        "the acting account (the sender); default: the bearer token's account, any other is "
        "a 403 (required only when the API runs without authentication)"
    ),
    required=False,
)
_account_ids_body = [_sender, Prop("account_ids", _ulids("accounts to add or remove"))]

CREATE_BODY = Object(
    "CreateThreadRequest",
    [
        _sender,
        Prop("title", String(min_length=1, max_length=limits.TITLE_MAX)),
        Prop("remarks", String(max_length=limits.REMARKS_MAX), required=False, nullable=True),
        Prop("parent_thread_id", Ulid(), required=False, nullable=True),
        Prop("administrator_ids", _ulids("besides the sender, who always is one")),
        Prop("member_ids", _ulids("the members")),
    ],
)
DESTROY_BODY = Object("DestroyThreadRequest", [_sender])
ACCOUNT_IDS_BODY = Object("AccountIdsRequest", _account_ids_body)
NEW_MESSAGE = Object(
    "NewMessage",
    [
        Prop("text", String(min_length=1, max_length=limits.TEXT_MAX)),
        Prop(
            "reply_message_id",
            Ulid("a live message of the thread (or an earlier one of this request)"),
            required=False,
            nullable=True,
        ),
        Prop(
            "to_account_ids",
            _ulids("recipients: participants of the thread"),
            required=False,
            nullable=True,
        ),
    ],
)
ADD_MESSAGES_BODY = Object(
    "AddMessagesRequest",
    [_sender, Prop("messages", Array(NEW_MESSAGE, max_items=limits.MESSAGES_PER_COMMAND_MAX))],
)
REMOVE_MESSAGES_BODY = Object(
    "RemoveMessagesRequest",
    [
        _sender,
        Prop("message_ids", _ulids("messages to remove", limits.MESSAGE_IDS_PER_COMMAND_MAX)),
    ],
)

# --- parameters ----------------------------------------------------------------------------

THREAD_ID = Param("thread_id", "path", Ulid(), required=True)
ACCOUNT_ID = Param(
    "account_id",
    "query",
    Ulid(),
    description="the reading account; default: the bearer token's account, any other is a 403 "
    "(required only when the API runs without authentication)",
)
LIMIT = Param(
    "limit",
    "query",
    Integer(minimum=1, maximum=queries.LIMIT_MAX, default=queries.LIMIT_DEFAULT),
    description="page size",
)
CURSOR = Param("cursor", "query", String(), description="`next_cursor` of the previous page")
MIN_VERSION = Param(
    "min_version",
    "query",
    Integer(minimum=0),
    description="answer only once the read model has this version of the thread (a command's "
    "`version`): waits a bounded time, then 409 STALE_VIEW",
)
IDEMPOTENCY = Param(
    IDEMPOTENCY_KEY,
    "header",
    Ulid(),
    description="the command id: a retry with the same key is the same command (never "
    "applied twice) and gets the original answer; default: a fresh id",
)

# --- responses -----------------------------------------------------------------------------

_BAD = Reply(422, "invalid parameters: one message per bad field", ERROR)
_UNAUTHENTICATED = Reply(
    401,
    "MISSING_TOKEN, INVALID_TOKEN: no bearer token, or one that is malformed, badly signed, "
    "expired, or of another issuer or audience",
    ERROR,
    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
)
_MISMATCH = Reply(403, "ACCOUNT_MISMATCH: `account_id` is not the bearer token's account", ERROR)
_UNAVAILABLE = Reply(503, "the read model or Kafka cannot answer now", ERROR)
_NOT_VISIBLE = Reply(404, "the thread does not exist or is not visible to the account", ERROR)
_STALE = Reply(409, "min_version not reached within the wait", STALE_VIEW)
_THREAD_QUERY_ERRORS = (_UNAUTHENTICATED, _MISMATCH, _NOT_VISIBLE, _STALE, _BAD, _UNAVAILABLE)
_COMMAND_ERRORS = (
    Reply(400, "the body is not JSON", ERROR),
    _UNAUTHENTICATED,
    Reply(
        403,
        "ACCOUNT_MISMATCH, SENDER_NOT_ADMINISTRATOR, SENDER_NOT_MEMBER, NOT_MESSAGE_SENDER",
        ERROR,
    ),
    Reply(404, "THREAD_NOT_FOUND", ERROR),
    Reply(409, "THREAD_ALREADY_EXISTS, THREAD_DESTROYED, LAST_ADMINISTRATOR, MESSAGE_LIMIT", ERROR),
    Reply(413, "the body is too large", ERROR),
    Reply(415, "the body is not application/json", ERROR),
    Reply(
        422,
        "INVALID_COMMAND (one message per bad field), REPLY_TARGET_NOT_FOUND, RECIPIENT_NOT_MEMBER",
        ERROR,
    ),
    Reply(503, "Kafka did not take the command; retry with the same Idempotency-Key", ERROR),
    Reply(504, "no reply in time; retry with the same Idempotency-Key", REPLY_TIMEOUT),
)

# --- endpoints -----------------------------------------------------------------------------

THREADS, COMMANDS, OPERATIONS = "threads", "commands", "operations"
TAGS = {
    THREADS: "Queries of the read model. A thread is visible to its administrators and "
    "members until it is destroyed; anything else is a 404.",
    COMMANDS: "Commands: produced to Kafka, decided by the thread's worker; the answer is the "
    "worker's reply.",
    OPERATIONS: "Health, readiness, metrics and this documentation.",
}


def _query(
    path: str,
    operation_id: str,
    summary: str,
    handler: Handler,
    response: Object,
    *,
    thread_scoped: bool,
    paged: bool,
    list_of: Callable[[str], str] | None = None,
) -> Endpoint:
    params = [ACCOUNT_ID]
    if thread_scoped:
        params = [THREAD_ID, ACCOUNT_ID, MIN_VERSION]
    if paged:
        params += [LIMIT, CURSOR]
    errors = (
        _THREAD_QUERY_ERRORS if thread_scoped else (_UNAUTHENTICATED, _MISMATCH, _BAD, _UNAVAILABLE)
    )
    return Endpoint(
        "GET",
        path,
        operation_id,
        summary,
        THREADS,
        handler,
        params=tuple(params),
        responses=(Reply(200, "OK", response), *errors),
        validate=(
            queries.cursor_validator(list_of, "thread_id" if thread_scoped else "account_id")
            if list_of is not None
            else None
        ),
        account_in="query",
    )


def _command(
    path: str,
    operation_id: str,
    summary: str,
    route: CommandRoute,
    body: Object,
    *,
    on_thread: bool = True,
) -> Endpoint:
    return Endpoint(
        "POST",
        path,
        operation_id,
        summary,
        COMMANDS,
        route.handler(),
        params=(THREAD_ID, IDEMPOTENCY) if on_thread else (IDEMPOTENCY,),
        body=body,
        responses=(
            Reply(200, "accepted", MESSAGES_RESULT if route.with_message_ids else COMMAND_RESULT),
            *_COMMAND_ERRORS,
        ),
        validate=route.validator(),
        invalid_reason=RejectionReason.INVALID_COMMAND,
        account_in="body",
    )


def _operation(
    path: str,
    operation_id: str,
    summary: str,
    handler: Handler,
    *responses: Reply,
) -> Endpoint:
    return Endpoint("GET", path, operation_id, summary, OPERATIONS, handler, responses=responses)


_THREAD = "/v1/threads/{thread_id}"

ENDPOINTS: tuple[Endpoint, ...] = (
    # A GET on /v1/threads/create reads the thread "create": a 422 (not a ULID), not a 405.
    _query(
        "/v1/threads",
        "listThreads",
        "Threads the account administers or is a member of",
        queries.list_threads,
        THREAD_PAGE,
        thread_scoped=False,
        paged=True,
        list_of=queries.threads_list,
    ),
    _command(
        "/v1/threads/create",
        "createThread",
        "Create a thread (the sender becomes an administrator)",
        CommandRoute(build_create),
        CREATE_BODY,
        on_thread=False,
    ),
    _query(
        _THREAD,
        "getThread",
        "A thread",
        queries.get_thread,
        THREAD_RESPONSE,
        thread_scoped=True,
        paged=False,
    ),
    _query(
        f"{_THREAD}/administrator-ids",
        "listAdministratorIds",
        "The thread's administrators",
        queries.list_administrator_ids,
        ACCOUNT_ID_PAGE,
        thread_scoped=True,
        paged=True,
        list_of=queries.administrators_list,
    ),
    _query(
        f"{_THREAD}/member-ids",
        "listMemberIds",
        "The thread's members (administrators are listed apart)",
        queries.list_member_ids,
        ACCOUNT_ID_PAGE,
        thread_scoped=True,
        paged=True,
        list_of=queries.members_list,
    ),
    _query(
        f"{_THREAD}/messages",
        "listMessages",
        "The thread's live messages, oldest first",
        queries.list_messages,
        MESSAGE_PAGE,
        thread_scoped=True,
        paged=True,
        list_of=queries.messages_list,
    ),
    # Commands.
    _command(
        f"{_THREAD}/destroy",
        "destroyThread",
        "Destroy a thread (administrators)",
        CommandRoute(build_destroy),
        DESTROY_BODY,
    ),
    _command(
        f"{_THREAD}/administrator-ids/join",
        "joinAdministratorIds",
        "Add administrators (administrators)",
        CommandRoute(build_join_administrators),
        ACCOUNT_IDS_BODY,
    ),
    _command(
        f"{_THREAD}/administrator-ids/leave",
        "leaveAdministratorIds",
        "Remove administrators; at least one remains (administrators)",
        CommandRoute(build_leave_administrators),
        ACCOUNT_IDS_BODY,
    ),
    _command(
        f"{_THREAD}/member-ids/join",
        "joinMemberIds",
        "Add members (administrators)",
        CommandRoute(build_join_members),
        ACCOUNT_IDS_BODY,
    ),
    _command(
        f"{_THREAD}/member-ids/leave",
        "leaveMemberIds",
        "Remove members (administrators; a member may remove only themself)",
        CommandRoute(build_leave_members),
        ACCOUNT_IDS_BODY,
    ),
    _command(
        f"{_THREAD}/messages/add",
        "addMessages",
        "Post messages (members and administrators)",
        CommandRoute(build_add_messages, with_message_ids=True),
        ADD_MESSAGES_BODY,
    ),
    _command(
        f"{_THREAD}/messages/remove",
        "removeMessages",
        "Remove messages (their sender, or an administrator)",
        CommandRoute(build_remove_messages, with_message_ids=True),
        REMOVE_MESSAGES_BODY,
    ),
    # Operations.
    _operation("/healthz", "healthz", "Liveness", operations.healthz, Reply(200, "alive", HEALTH)),
    _operation(
        "/readyz",
        "readyz",
        "Readiness: PostgreSQL and Kafka answer",
        operations.readyz,
        Reply(200, "ready", READINESS),
        Reply(503, "a dependency does not answer", READINESS),
    ),
    _operation(
        "/metrics",
        "metrics",
        "Prometheus metrics",
        operations.metrics,
        Reply(200, "Prometheus text format", String(), "text/plain"),
    ),
    _operation(
        "/openapi.json",
        "openapi",
        "This document",
        operations.openapi,
        Reply(200, "OpenAPI 3.1", None),
    ),
    _operation(
        "/docs",
        "docs",
        "Interactive documentation",
        operations.docs,
        Reply(200, "HTML page", String(), "text/html"),
    ),
)
