"""Query endpoints (docs/architecture.md, HTTP API): their parameter models (checked fully:
ids, page sizes, cursors of the right list) and thin handlers between those, the SQL
builders of `api.sql` and the answers of `api.models`.

Read your writes (docs/guarantees.md): a thread-scoped query may carry `min_version`. When
the read model is behind, the handler polls the thread's version (short, growing sleeps) for
at most THREADWEAVER_API_MIN_VERSION_WAIT_S, then answers 409 STALE_VIEW with the version it
has. The version is only disclosed when the thread is visible to the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, ClassVar

import asyncpg
from annotated_types import Ge, Le
from pydantic import BaseModel, Field, Strict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from starlette.requests import Request
from starlette.responses import Response

from api import sql
from api.cursor import (
    CursorError,
    administrators_list,
    decode_cursor,
    encode_cursor,
    members_list,
    messages_list,
    threads_list,
)
from api.errors import ApiError, HttpReason, thread_not_visible
from api.metrics import MIN_VERSION_WAITS
from api.models import (
    PATH,
    PLAIN_INTEGER,
    QUERY,
    AccountIdPage,
    Message,
    MessagePage,
    Thread,
    ThreadPage,
    ThreadResponse,
    Ulid,
)
from api.responses import JsonResponse
from api.services import Services, services
from api.spec import ACCOUNT_CONTEXT, Call
from pipeline.domain.ids import is_ulid

LIMIT_DEFAULT = 50
LIMIT_MAX = 200
_POLL_FIRST_S = 0.005
_POLL_MAX_S = 0.1

# Failures that mean "the read model cannot answer now", not "this request is wrong".
READ_MODEL_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    # A connection that broke under a running statement (the server was killed) can leave
    # asyncpg's protocol mid-operation: "cannot switch to state 12; another operation (2) is in
    # progress" (seen in the chaos suite when PostgreSQL is SIGKILLed).
    asyncpg.InternalClientError,
)

# --- parameters ------------------------------------------------------------------------------

ThreadId = Annotated[Ulid, PATH]
AccountId = Annotated[
    Ulid | None,
    QUERY,
    Field(
        description="the reading account; default: the bearer token's account, any other is a "
        "403 (required only when the API runs without authentication)"
    ),
]
MinVersion = Annotated[
    Annotated[Annotated[int, Strict(), Ge(0)], PLAIN_INTEGER] | None,
    QUERY,
    Field(
        description="answer only once the read model has this version of the thread (a "
        "command's `version`): waits a bounded time, then 409 STALE_VIEW"
    ),
]
Limit = Annotated[
    Annotated[int, Strict(), Ge(1), Le(LIMIT_MAX)],
    PLAIN_INTEGER,
    QUERY,
    Field(description="page size"),
]
Cursor = Annotated[str | None, QUERY, Field(description="`next_cursor` of the previous page")]


def _cursor_of(cursor: str | None, scope: object, list_of: Callable[[str], str]) -> str | None:
    """`cursor`, if it is one of the list of `scope` (a thread or an account)."""
    if cursor is None or not is_ulid(scope):
        return cursor  # a bad thread or account id is reported by itself
    assert isinstance(scope, str)
    try:
        decode_cursor(cursor, list_of(scope))
    except CursorError as exc:
        raise PydanticCustomError("cursor", str(exc)) from exc
    return cursor


class ThreadsParams(BaseModel):
    account_id: AccountId = None
    limit: Limit = LIMIT_DEFAULT
    cursor: Cursor = None

    @field_validator("cursor")
    @classmethod
    def _of_the_accounts_list(cls, cursor: str | None, info: ValidationInfo) -> str | None:
        account = (info.context or {}).get(ACCOUNT_CONTEXT)
        return _cursor_of(cursor, account, threads_list)


class ThreadParams(BaseModel):
    thread_id: ThreadId
    account_id: AccountId = None
    min_version: MinVersion = None


class _ThreadPageParams(ThreadParams):
    limit: Limit = LIMIT_DEFAULT
    cursor: Cursor = None
    # The list a cursor of this thread's page belongs to.
    list_of: ClassVar[Callable[[str], str]]

    @field_validator("cursor")
    @classmethod
    def _of_the_threads_list(cls, cursor: str | None, info: ValidationInfo) -> str | None:
        # thread_id is there only when it is valid (fields are validated in order).
        return _cursor_of(cursor, info.data.get("thread_id"), cls.list_of)


class AdministratorIdsParams(_ThreadPageParams):
    list_of: ClassVar[Callable[[str], str]] = staticmethod(administrators_list)


class MemberIdsParams(_ThreadPageParams):
    list_of: ClassVar[Callable[[str], str]] = staticmethod(members_list)


class MessagesParams(_ThreadPageParams):
    list_of: ClassVar[Callable[[str], str]] = staticmethod(messages_list)


# --- answers ---------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds (the precision of Kafka timestamps)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def thread_json(row: asyncpg.Record) -> Thread:
    return {
        "id": row["id"],
        "creator_id": row["creator_id"],
        "parent_thread_id": row["parent_thread_id"],
        "title": row["title"],
        "remarks": row["remarks"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "version": row["version"],
    }


def message_json(row: asyncpg.Record) -> Message:
    return {
        "id": row["key"],
        "sender_id": row["sender_id"],
        "text": row["text"],
        "reply_message_id": row["reply_message_id"],
        "to_account_ids": list(row["to_account_ids"] or ()),
        "created_at": iso(row["created_at"]),
    }


def _after(cursor: str | None, list_name: str) -> str | None:
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor, list_name)
    except CursorError as exc:  # checked by the parameters' model already; kept total
        raise ApiError(422, HttpReason.INVALID_REQUEST, [f"cursor: {exc}"]) from exc


async def _fetch(s: Services, query: sql.Query) -> list[asyncpg.Record]:
    timeout = s.settings.query_timeout_s
    try:
        async with s.pool.acquire(timeout=timeout) as conn:
            return await conn.fetch(query.sql, *query.args, timeout=timeout)
    except READ_MODEL_UNAVAILABLE as exc:
        raise ApiError(
            503, HttpReason.UNAVAILABLE, ["the read model is unavailable; retry later"]
        ) from exc


async def _wait_for_version(s: Services, thread_id: str, minimum: int) -> None:
    """Return once the projection has `minimum` of the thread, or when the wait is over."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + s.settings.min_version_wait_s
    delay = _POLL_FIRST_S
    while (remaining := deadline - loop.time()) > 0:
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, _POLL_MAX_S)
        rows = await _fetch(s, sql.thread_version(thread_id))
        if rows and rows[0]["version"] >= minimum:
            return


async def _visible_rows(
    s: Services, query: sql.Query, thread_id: str, account_id: str, min_version: int | None
) -> list[asyncpg.Record]:
    """The rows of a thread-scoped statement (which carry `version` and `visible`), once the
    view is fresh enough; 409 when it stays stale, 404 when the thread is not visible."""
    rows = await _fetch(s, query)
    version = rows[0]["version"] if rows else 0
    if min_version is not None and version < min_version:
        await _wait_for_version(s, thread_id, min_version)
        rows = await _fetch(s, query)
        version = rows[0]["version"] if rows else 0
        if version < min_version:
            MIN_VERSION_WAITS.labels("stale").inc()
            visible = bool(rows) and bool(rows[0]["visible"])
            raise ApiError(
                409,
                HttpReason.STALE_VIEW,
                [
                    f"the read model has not reached version {min_version} of thread "
                    f"{thread_id} within {s.settings.min_version_wait_s:g} s; retry later"
                ],
                version=version if visible else None,
            )
        MIN_VERSION_WAITS.labels("reached").inc()
    if not rows or not rows[0]["visible"]:
        raise thread_not_visible(thread_id, account_id)
    return rows


def _page(
    rows: Sequence[asyncpg.Record], limit: int, list_name: str
) -> tuple[list[asyncpg.Record], str | None]:
    """The rows of one page (the NULL row of an empty page dropped) and the next cursor."""
    items = [row for row in rows if row["key"] is not None]
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, encode_cursor(list_name, items[-1]["key"])


async def get_thread(request: Request, call: Call[ThreadParams, None]) -> Response:
    s, p, account = services(request), call.params, call.account
    query = sql.thread_view(p.thread_id, account)
    rows = await _visible_rows(s, query, p.thread_id, account, p.min_version)
    answer: ThreadResponse = {"thread": thread_json(rows[0])}
    return JsonResponse(answer)


async def list_threads(request: Request, call: Call[ThreadsParams, None]) -> Response:
    s, p, account = services(request), call.params, call.account
    list_name = threads_list(account)
    rows = await _fetch(s, sql.thread_page(account, _after(p.cursor, list_name), p.limit))
    more = len(rows) > p.limit
    rows = rows[: p.limit]
    next_cursor = encode_cursor(list_name, rows[-1]["id"]) if more else None
    answer: ThreadPage = {"threads": [thread_json(r) for r in rows], "next_cursor": next_cursor}
    return JsonResponse(answer)


async def _account_ids(
    request: Request, p: _ThreadPageParams, account: str, administrators: bool
) -> Response:
    s = services(request)
    list_name = type(p).list_of(p.thread_id)
    build = sql.administrator_page if administrators else sql.member_page
    query = build(p.thread_id, account, _after(p.cursor, list_name), p.limit)
    rows = await _visible_rows(s, query, p.thread_id, account, p.min_version)
    items, next_cursor = _page(rows, p.limit, list_name)
    answer: AccountIdPage = {"account_ids": [r["key"] for r in items], "next_cursor": next_cursor}
    return JsonResponse(answer)


async def list_administrator_ids(
    request: Request, call: Call[AdministratorIdsParams, None]
) -> Response:
    return await _account_ids(request, call.params, call.account, administrators=True)


async def list_member_ids(request: Request, call: Call[MemberIdsParams, None]) -> Response:
    return await _account_ids(request, call.params, call.account, administrators=False)


async def list_messages(request: Request, call: Call[MessagesParams, None]) -> Response:
    s, p, account = services(request), call.params, call.account
    list_name = messages_list(p.thread_id)
    query = sql.message_page(p.thread_id, account, _after(p.cursor, list_name), p.limit)
    rows = await _visible_rows(s, query, p.thread_id, account, p.min_version)
    items, next_cursor = _page(rows, p.limit, list_name)
    answer: MessagePage = {
        "messages": [message_json(r) for r in items],
        "next_cursor": next_cursor,
    }
    return JsonResponse(answer)
