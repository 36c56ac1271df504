"""THE route table: every endpoint with its parameter and body models and its answers.

The Starlette routes (`api.app`), the request checks (`api.spec.run`, with the models of
`api.models`, `api.queries` and `api.commands`) and the OpenAPI document (`api.openapi`) are
all built from `ENDPOINTS`, so none can disagree with another.
Contract: docs/architecture.md, HTTP API; choices: docs/adr/0007-http-api.md.
"""

from __future__ import annotations

from pydantic import BaseModel

from api import operations, queries
from api.commands import (
    CommandRoute,
    CreateParams,
    ThreadCommandParams,
    build_add_messages,
    build_create,
    build_destroy,
    build_join_administrators,
    build_join_members,
    build_leave_administrators,
    build_leave_members,
    build_remove_messages,
)
from api.models import (
    AccountIdPage,
    AccountIdsRequest,
    AddMessagesRequest,
    CommandResult,
    CreateThreadRequest,
    DestroyThreadRequest,
    Error,
    Health,
    MessagePage,
    MessagesCommandResult,
    Readiness,
    RemoveMessagesRequest,
    ReplyTimeout,
    StaleView,
    ThreadPage,
    ThreadResponse,
)
from api.queries import (
    AdministratorIdsParams,
    MemberIdsParams,
    MessagesParams,
    ThreadParams,
    ThreadsParams,
)
from api.spec import Endpoint, Handler, Reply
from pipeline.domain import RejectionReason

# --- responses -----------------------------------------------------------------------------

_BAD = Reply(422, "invalid parameters: one message per bad field", Error)
_UNAUTHENTICATED = Reply(
    401,
    "MISSING_TOKEN, INVALID_TOKEN: no bearer token, or one that is malformed, badly signed, "
    "expired, or of another issuer or audience",
    Error,
    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
)
_MISMATCH = Reply(403, "ACCOUNT_MISMATCH: `account_id` is not the bearer token's account", Error)
_UNAVAILABLE = Reply(503, "the read model or Kafka cannot answer now", Error)
_NOT_VISIBLE = Reply(404, "the thread does not exist or is not visible to the account", Error)
_STALE = Reply(409, "min_version not reached within the wait", StaleView)
_THREAD_QUERY_ERRORS = (_UNAUTHENTICATED, _MISMATCH, _NOT_VISIBLE, _STALE, _BAD, _UNAVAILABLE)
_COMMAND_ERRORS = (
    Reply(400, "the body is not JSON", Error),
    _UNAUTHENTICATED,
    Reply(
        403,
        "ACCOUNT_MISMATCH, SENDER_NOT_ADMINISTRATOR, SENDER_NOT_MEMBER, NOT_MESSAGE_SENDER",
        Error,
    ),
    Reply(404, "THREAD_NOT_FOUND", Error),
    Reply(409, "THREAD_ALREADY_EXISTS, THREAD_DESTROYED, LAST_ADMINISTRATOR, MESSAGE_LIMIT", Error),
    Reply(413, "the body is too large", Error),
    Reply(415, "the body is not application/json", Error),
    Reply(
        422,
        "INVALID_COMMAND (one message per bad field), REPLY_TARGET_NOT_FOUND, RECIPIENT_NOT_MEMBER",
        Error,
    ),
    Reply(503, "Kafka did not take the command; retry with the same Idempotency-Key", ReplyTimeout),
    Reply(504, "no reply in time; retry with the same Idempotency-Key", ReplyTimeout),
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
    *,
    params: type[BaseModel],
    response: type,
    thread_scoped: bool,
) -> Endpoint:
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
        params_model=params,
        responses=(Reply(200, "OK", response), *errors),
        account_in="query",
    )


def _command(
    path: str,
    operation_id: str,
    summary: str,
    route: CommandRoute,
    body: type[BaseModel],
    *,
    on_thread: bool = True,
) -> Endpoint:
    return Endpoint(
        "POST",
        path,
        operation_id,
        summary,
        COMMANDS,
        route.handle,
        params_model=ThreadCommandParams if on_thread else CreateParams,
        body=body,
        responses=(
            Reply(
                200, "accepted", MessagesCommandResult if route.with_message_ids else CommandResult
            ),
            *_COMMAND_ERRORS,
        ),
        check=route.check,
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
        params=ThreadsParams,
        response=ThreadPage,
        thread_scoped=False,
    ),
    _command(
        "/v1/threads/create",
        "createThread",
        "Create a thread (the sender becomes an administrator)",
        CommandRoute(build_create),
        CreateThreadRequest,
        on_thread=False,
    ),
    _query(
        _THREAD,
        "getThread",
        "A thread",
        queries.get_thread,
        params=ThreadParams,
        response=ThreadResponse,
        thread_scoped=True,
    ),
    _query(
        f"{_THREAD}/administrator-ids",
        "listAdministratorIds",
        "The thread's administrators",
        queries.list_administrator_ids,
        params=AdministratorIdsParams,
        response=AccountIdPage,
        thread_scoped=True,
    ),
    _query(
        f"{_THREAD}/member-ids",
        "listMemberIds",
        "The thread's members (administrators are listed apart)",
        queries.list_member_ids,
        params=MemberIdsParams,
        response=AccountIdPage,
        thread_scoped=True,
    ),
    _query(
        f"{_THREAD}/messages",
        "listMessages",
        "The thread's live messages, oldest first",
        queries.list_messages,
        params=MessagesParams,
        response=MessagePage,
        thread_scoped=True,
    ),
    # Commands.
    _command(
        f"{_THREAD}/destroy",
        "destroyThread",
        "Destroy a thread (administrators)",
        CommandRoute(build_destroy),
        DestroyThreadRequest,
    ),
    _command(
        f"{_THREAD}/administrator-ids/join",
        "joinAdministratorIds",
        "Add administrators (administrators)",
        CommandRoute(build_join_administrators),
        AccountIdsRequest,
    ),
    _command(
        f"{_THREAD}/administrator-ids/leave",
        "leaveAdministratorIds",
        "Remove administrators; at least one remains (administrators)",
        CommandRoute(build_leave_administrators),
        AccountIdsRequest,
    ),
    _command(
        f"{_THREAD}/member-ids/join",
        "joinMemberIds",
        "Add members (administrators)",
        CommandRoute(build_join_members),
        AccountIdsRequest,
    ),
    _command(
        f"{_THREAD}/member-ids/leave",
        "leaveMemberIds",
        "Remove members (administrators; a member may remove only themself)",
        CommandRoute(build_leave_members),
        AccountIdsRequest,
    ),
    _command(
        f"{_THREAD}/messages/add",
        "addMessages",
        "Post messages (members and administrators)",
        CommandRoute(build_add_messages, with_message_ids=True),
        AddMessagesRequest,
    ),
    _command(
        f"{_THREAD}/messages/remove",
        "removeMessages",
        "Remove messages (their sender, or an administrator)",
        CommandRoute(build_remove_messages, with_message_ids=True),
        RemoveMessagesRequest,
    ),
    # Operations.
    _operation("/healthz", "healthz", "Liveness", operations.healthz, Reply(200, "alive", Health)),
    _operation(
        "/readyz",
        "readyz",
        "Readiness: PostgreSQL and Kafka answer",
        operations.readyz,
        Reply(200, "ready", Readiness),
        Reply(503, "a dependency does not answer", Readiness),
    ),
    _operation(
        "/metrics",
        "metrics",
        "Prometheus metrics",
        operations.metrics,
        Reply(200, "Prometheus text format", {"type": "string"}, "text/plain"),
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
        "Interactive documentation (Swagger UI)",
        operations.docs,
        Reply(200, "HTML page", {"type": "string"}, "text/html"),
    ),
)
