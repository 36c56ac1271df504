"""The query endpoints against the real read model: rows inserted directly into PostgreSQL
(as the projector would write them), read through the real app and its lifespan. Every
request carries the bearer token of the account it reads as."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from api.cursor import encode_cursor
from pipeline.client.commands import new_id
from pipeline.settings import Settings
from tests.support.api import api_client, api_settings
from tests.support.auth import bearer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

T0 = datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)
WAIT_S = 1.0


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def db(stack: Any) -> AsyncIterator[asyncpg.Connection]:
    settings: Settings = stack.settings()
    assert settings.pg_dsn is not None
    conn = await asyncpg.connect(settings.pg_dsn)
    yield conn
    await conn.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def api(stack: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings(stack.settings(), min_version_wait_s=WAIT_S)
    async with api_client(settings) as client:
        yield client


async def insert_thread(
    db: asyncpg.Connection,
    creator: str,
    *,
    admins: Sequence[str] = (),
    members: Sequence[str] = (),
    version: int = 1,
    destroyed: bool = False,
    title: str = "Lunch",
    remarks: str | None = None,
    parent: str | None = None,
) -> str:
    thread = new_id()
    await db.execute(
        "INSERT INTO threads (id, creator_id, parent_thread_id, title, remarks, created_at, "
        "updated_at, destroyed_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        thread,
        creator,
        parent,
        title,
        remarks,
        T0,
        T0 + timedelta(seconds=version),
        T0 + timedelta(hours=1) if destroyed else None,
        version,
    )
    await db.executemany(
        "INSERT INTO thread_administrators (thread_id, account_id, joined_at) VALUES ($1, $2, $3)",
        [(thread, a, T0) for a in dict.fromkeys([creator, *admins])],
    )
    await db.executemany(
        "INSERT INTO thread_members (thread_id, account_id, joined_at) VALUES ($1, $2, $3)",
        [(thread, m, T0) for m in members],
    )
    return thread


async def insert_message(
    db: asyncpg.Connection,
    thread: str,
    sender: str,
    text: str,
    *,
    reply_to: str | None = None,
    to: Sequence[str] = (),
    removed: bool = False,
) -> str:
    message = new_id()
    await db.execute(
        "INSERT INTO messages (thread_id, id, sender_id, text, reply_message_id, to_account_ids, "
        "created_at, removed_at, removed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        thread,
        message,
        sender,
        text,
        reply_to,
        list(to),
        T0,
        T0 if removed else None,
        sender if removed else None,
    )
    return message


def accounts(n: int) -> list[str]:
    return sorted(new_id() for _ in range(n))


async def get(
    api: httpx.AsyncClient, path: str, as_: str | None = None, **params: object
) -> httpx.Response:
    """GET with the token of `as_` (default: the `account_id` parameter)."""
    account = as_ if as_ is not None else str(params["account_id"])
    return await api.get(
        path, params={k: str(v) for k, v in params.items()}, headers=bearer(account)
    )


def not_visible(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["reason"] == "THREAD_NOT_FOUND"
    assert set(response.json()) == {"error_messages", "reason"}


async def test_a_thread_reads_back_exactly(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    admin, member = accounts(2)
    parent = await insert_thread(db, admin)
    thread = await insert_thread(
        db, admin, members=[member], version=3, remarks="bring cash", parent=parent
    )
    response = await get(api, f"/v1/threads/{thread}", account_id=member)
    assert response.status_code == 200
    assert response.json() == {
        "thread": {
            "id": thread,
            "creator_id": admin,
            "parent_thread_id": parent,
            "title": "Lunch",
            "remarks": "bring cash",
            "created_at": "2026-11-22T12:00:00.123Z",
            "updated_at": "2026-11-22T12:00:03.123Z",
            "version": 3,
        }
    }


async def test_visibility_of_every_thread_scoped_query(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin, member, stranger = accounts(3)
    live = await insert_thread(db, admin, members=[member])
    destroyed = await insert_thread(db, admin, members=[member], destroyed=True)
    missing = new_id()
    for suffix in ("", "/administrator-ids", "/member-ids", "/messages"):
        for reader in (admin, member):
            response = await get(api, f"/v1/threads/{live}{suffix}", account_id=reader)
            assert response.status_code == 200, (suffix, response.text)
        not_visible(await get(api, f"/v1/threads/{live}{suffix}", account_id=stranger))
        for reader in (admin, member):
            not_visible(await get(api, f"/v1/threads/{destroyed}{suffix}", account_id=reader))
        not_visible(await get(api, f"/v1/threads/{missing}{suffix}", account_id=admin))
    # "Missing" and "not yours" read the same.
    a = await get(api, f"/v1/threads/{missing}", account_id=stranger)
    b = await get(api, f"/v1/threads/{live}", account_id=stranger)
    assert a.json()["error_messages"][0].replace(missing, "T") == b.json()["error_messages"][
        0
    ].replace(live, "T")


async def test_thread_list_is_the_visible_threads_in_id_order_paged(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    (me,) = accounts(1)
    other = new_id()
    mine = [
        await insert_thread(db, me),
        await insert_thread(db, other, admins=[me]),
        await insert_thread(db, other, members=[me]),
        # Both administrator and member: listed once.
        await insert_thread(db, other, admins=[me], members=[me]),
        await insert_thread(db, other, members=[me], remarks="r"),
    ]
    await insert_thread(db, me, destroyed=True)
    await insert_thread(db, other, members=[new_id()])
    expected = sorted(mine)

    whole = await get(api, "/v1/threads", account_id=me)
    assert [t["id"] for t in whole.json()["threads"]] == expected
    assert whole.json()["next_cursor"] is None

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, object] = {"account_id": me, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await get(api, "/v1/threads", **params)).json()
        pages += 1
        seen += [t["id"] for t in page["threads"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == 3
    # A cursor is bound to its list: another account's list refuses it.
    page = (await get(api, "/v1/threads", account_id=me, limit=2)).json()
    refused = await get(api, "/v1/threads", account_id=other, cursor=page["next_cursor"])
    assert refused.status_code == 422
    assert refused.json()["error_messages"] == ["cursor: belongs to another list"]


async def test_messages_live_in_order_with_reply_and_recipients(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin, member = accounts(2)
    thread = await insert_thread(db, admin, members=[member], version=9)
    first = await insert_message(db, thread, member, "noon?", to=[admin])
    await insert_message(db, thread, member, "gone", removed=True)
    second = await insert_message(db, thread, admin, "ok", reply_to=first, to=[member, admin])
    third = await insert_message(db, thread, admin, "bring cash")
    await insert_message(db, thread, admin, "also gone", removed=True)
    fourth = await insert_message(db, thread, member, "fine", reply_to=third)

    response = await get(api, f"/v1/threads/{thread}/messages", account_id=member)
    messages = response.json()["messages"]
    assert [m["id"] for m in messages] == [first, second, third, fourth]
    assert messages[1] == {
        "id": second,
        "sender_id": admin,
        "text": "ok",
        "reply_message_id": first,
        "to_account_ids": [member, admin],
        "created_at": "2026-11-22T12:00:00.123Z",
    }
    assert messages[0]["to_account_ids"] == [admin]
    assert messages[2]["reply_message_id"] is None
    assert messages[2]["to_account_ids"] == []

    pages = []
    cursor = None
    while True:
        params: dict[str, object] = {"account_id": admin, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await get(api, f"/v1/threads/{thread}/messages", **params)).json()
        pages.append([m["id"] for m in page["messages"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [[first, second, third], [fourth]]


async def test_administrators_and_members_are_listed_apart_and_paged(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin = new_id()
    admins = accounts(3)
    members = accounts(205)
    thread = await insert_thread(db, admin, admins=admins, members=members)

    response = await get(api, f"/v1/threads/{thread}/administrator-ids", account_id=members[0])
    assert response.json() == {"account_ids": sorted([admin, *admins]), "next_cursor": None}

    default = (await get(api, f"/v1/threads/{thread}/member-ids", account_id=admin)).json()
    assert default["account_ids"] == members[:50]
    biggest = (
        await get(api, f"/v1/threads/{thread}/member-ids", account_id=admin, limit=200)
    ).json()
    assert biggest["account_ids"] == members[:200]
    rest = (
        await get(
            api,
            f"/v1/threads/{thread}/member-ids",
            account_id=admin,
            limit=200,
            cursor=biggest["next_cursor"],
        )
    ).json()
    assert rest == {"account_ids": members[200:], "next_cursor": None}

    too_many = await get(api, f"/v1/threads/{thread}/member-ids", account_id=admin, limit=201)
    assert too_many.status_code == 422
    assert too_many.json()["error_messages"] == ["limit: must be an integer from 1 to 200"]


async def test_bad_cursors_and_parameters_are_422(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin = new_id()
    members = accounts(3)
    thread = await insert_thread(db, admin, members=members)
    other = await insert_thread(db, admin, members=members)
    path = f"/v1/threads/{thread}/member-ids"
    page = (await get(api, path, account_id=admin, limit=1)).json()
    cursor = page["next_cursor"]
    assert (await get(api, path, account_id=admin, cursor=cursor)).status_code == 200

    edited = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    for bad, message in [
        (edited, "cursor: is not a valid cursor (damaged or edited)"),
        ("hello", "cursor: is not a valid cursor"),
        (encode_cursor(f"messages/{thread}", members[0]), "cursor: belongs to another list"),
    ]:
        response = await get(api, path, account_id=admin, cursor=bad)
        assert response.status_code == 422
        assert response.json() == {"error_messages": [message], "reason": "INVALID_REQUEST"}
    elsewhere = await get(api, f"/v1/threads/{other}/member-ids", account_id=admin, cursor=cursor)
    assert elsewhere.json()["error_messages"] == ["cursor: belongs to another list"]

    # Without account_id, the reader is the token's account.
    implicit = await api.get(path, headers=bearer(admin))
    assert implicit.status_code == 200, implicit.text
    assert implicit.json()["account_ids"] == members
    lower = await get(api, path, as_=admin, account_id=admin.lower())
    assert lower.json()["error_messages"] == [
        "account_id: must be a ULID (26 Crockford base32 characters)"
    ]


async def test_min_version_reached_at_once(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    admin = new_id()
    thread = await insert_thread(db, admin, version=3)
    for version in (0, 1, 3):
        started = time.monotonic()
        response = await get(api, f"/v1/threads/{thread}", account_id=admin, min_version=version)
        assert response.status_code == 200
        assert time.monotonic() - started < 0.5


async def test_min_version_waits_for_the_projection(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin, member = accounts(2)
    thread = await insert_thread(db, admin, version=3)

    async def project_later() -> None:
        await asyncio.sleep(0.3)
        async with db.transaction():
            await db.execute(
                "INSERT INTO thread_members (thread_id, account_id, joined_at) VALUES ($1, $2, $3)",
                thread,
                member,
                T0,
            )
            await db.execute("UPDATE threads SET version = 4 WHERE id = $1", thread)

    started = time.monotonic()
    _, response = await asyncio.gather(
        project_later(),
        get(api, f"/v1/threads/{thread}/member-ids", account_id=admin, min_version=4),
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["account_ids"] == [member]
    assert 0.3 <= elapsed < WAIT_S


async def test_min_version_not_reached_is_409_with_the_version(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin, stranger = accounts(2)
    thread = await insert_thread(db, admin, version=3)
    started = time.monotonic()
    response = await get(api, f"/v1/threads/{thread}/messages", account_id=admin, min_version=5)
    assert WAIT_S <= time.monotonic() - started < WAIT_S + 1.0
    assert response.status_code == 409
    body = response.json()
    assert body["reason"] == "STALE_VIEW"
    assert body["version"] == 3
    assert "version 5" in body["error_messages"][0]

    # Not visible to the caller: stale is still stale, but the version is not disclosed.
    hidden = await get(api, f"/v1/threads/{thread}", account_id=stranger, min_version=5)
    assert hidden.status_code == 409
    assert hidden.json()["version"] is None
    # Reached but not visible: the answer is the ordinary 404.
    not_visible(await get(api, f"/v1/threads/{thread}", account_id=stranger, min_version=3))


async def test_min_version_of_a_thread_not_projected_yet(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin = new_id()
    response = await get(api, f"/v1/threads/{new_id()}", account_id=admin, min_version=1)
    assert response.status_code == 409
    assert response.json()["version"] is None

    thread = new_id()

    async def create_thread_later() -> None:
        await asyncio.sleep(0.2)
        async with db.transaction():
            await db.execute(
                "INSERT INTO threads (id, creator_id, title, created_at, updated_at, version) "
                "VALUES ($1, $2, 'late', $3, $3, 1)",
                thread,
                admin,
                T0,
            )
            await db.execute(
                "INSERT INTO thread_administrators (thread_id, account_id, joined_at) "
                "VALUES ($1, $2, $3)",
                thread,
                admin,
                T0,
            )

    _, response = await asyncio.gather(
        create_thread_later(),
        get(api, f"/v1/threads/{thread}", account_id=admin, min_version=1),
    )
    assert response.status_code == 200, response.text
    assert response.json()["thread"]["title"] == "late"


async def test_operational_endpoints(api: httpx.AsyncClient) -> None:
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"postgres": "ok", "kafka": "ok"}}
    metrics = (await api.get("/metrics")).text
    assert (
        'threadweaver_api_requests_total{method="GET",route="/v1/threads/{thread_id}",'
        'status="200"}' in metrics
    )
    assert 'threadweaver_api_min_version_waits_total{outcome="stale"}' in metrics
    assert "threadweaver_api_request_duration_seconds_bucket" in metrics
