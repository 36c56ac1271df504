"""Query handlers (docs/architecture.md, HTTP API): thin glue between the checked inputs,
the SQL builders of `api.sql` and the JSON shapes of the contract.

Read your writes (docs/guarantees.md): a thread-scoped query may carry `min_version`. When
the read model is behind, the handler polls the thread's version (short, growing sleeps) for
at most THREADWEAVER_API_MIN_VERSION_WAIT_S, then answers 409 STALE_VIEW with the version it
has. The version is only disclosed when the thread is visible to the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api import sql
from api.cursor import CursorError, decode_cursor, encode_cursor
from api.errors import ApiError, HttpReason, thread_not_visible
from api.metrics import MIN_VERSION_WAITS
from api.services import Services, services
from api.spec import Inputs, Validator
from pipeline.domain import Problem
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


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds (the precision of Kafka timestamps)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def thread_json(row: asyncpg.Record) -> dict[str, Any]:
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


def message_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["key"],
        "sender_id": row["sender_id"],
        "text": row["text"],
        "reply_message_id": row["reply_message_id"],
        "to_account_ids": list(row["to_account_ids"] or ()),
        "created_at": iso(row["created_at"]),
    }


# The list a cursor belongs to: a cursor of one list (or thread) is refused by another.
def threads_list(account_id: str) -> str:
    return f"threads/{account_id}"


def administrators_list(thread_id: str) -> str:
    return f"administrator-ids/{thread_id}"


def members_list(thread_id: str) -> str:
    return f"member-ids/{thread_id}"


def messages_list(thread_id: str) -> str:
    return f"messages/{thread_id}"


def cursor_validator(list_of: Callable[[str], str], scope_param: str) -> Validator:
    """A `Validator` that names `cursor` when it is not a cursor of the requested list."""

    def validate(inputs: Inputs) -> Sequence[Problem]:
        cursor, scope = inputs.optional_text("cursor"), inputs.text(scope_param)
        if cursor is None or not is_ulid(scope):
            return ()  # a bad thread or account id is reported by itself
        try:
            decode_cursor(cursor, list_of(scope))
        except CursorError as exc:
            return (Problem("cursor", str(exc)),)
        return ()

    return validate


def _after(inputs: Inputs, list_name: str) -> str | None:
    cursor = inputs.optional_text("cursor")
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor, list_name)
    except CursorError as exc:  # checked by the validator already; kept total
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


async def get_thread(request: Request, inputs: Inputs) -> Response:
    s = services(request)
    thread_id, account_id = inputs.text("thread_id"), inputs.text("account_id")
    query = sql.thread_view(thread_id, account_id)
    rows = await _visible_rows(
        s, query, thread_id, account_id, inputs.optional_integer("min_version")
    )
    return JSONResponse({"thread": thread_json(rows[0])})


async def list_threads(request: Request, inputs: Inputs) -> Response:
    s = services(request)
    account_id, limit = inputs.text("account_id"), inputs.integer("limit")
    list_name = threads_list(account_id)
    rows = await _fetch(s, sql.thread_page(account_id, _after(inputs, list_name), limit))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(list_name, rows[-1]["id"]) if more else None
    return JSONResponse({"threads": [thread_json(r) for r in rows], "next_cursor": next_cursor})


async def _account_ids(request: Request, inputs: Inputs, administrators: bool) -> Response:
    s = services(request)
    thread_id, account_id = inputs.text("thread_id"), inputs.text("account_id")
    limit = inputs.integer("limit")
    list_name = administrators_list(thread_id) if administrators else members_list(thread_id)
    build = sql.administrator_page if administrators else sql.member_page
    query = build(thread_id, account_id, _after(inputs, list_name), limit)
    rows = await _visible_rows(
        s, query, thread_id, account_id, inputs.optional_integer("min_version")
    )
    items, next_cursor = _page(rows, limit, list_name)
    return JSONResponse({"account_ids": [r["key"] for r in items], "next_cursor": next_cursor})


async def list_administrator_ids(request: Request, inputs: Inputs) -> Response:
    return await _account_ids(request, inputs, administrators=True)


async def list_member_ids(request: Request, inputs: Inputs) -> Response:
    return await _account_ids(request, inputs, administrators=False)


async def list_messages(request: Request, inputs: Inputs) -> Response:
    s = services(request)
    thread_id, account_id = inputs.text("thread_id"), inputs.text("account_id")
    limit = inputs.integer("limit")
    list_name = messages_list(thread_id)
    query = sql.message_page(thread_id, account_id, _after(inputs, list_name), limit)
    rows = await _visible_rows(
        s, query, thread_id, account_id, inputs.optional_integer("min_version")
    )
    items, next_cursor = _page(rows, limit, list_name)
    return JSONResponse({"messages": [message_json(r) for r in items], "next_cursor": next_cursor})
