"""The eight command endpoints against the real aggregate worker: accepted replies, rejections
mapped to HTTP statuses, field-naming 422s, idempotent retries and the 504 of a timeout. Every
request carries the bearer token of its sender; the token alone names the sender too."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from pipeline.client.commands import new_id
from pipeline.settings import Settings
from tests.support.api import api_client, api_settings
from tests.support.auth import bearer
from tests.support.processes import Component, worker

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

REPLY_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def running_worker(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Component]:
    settings: Settings = stack.settings()
    component = worker(settings, Path(tmp_path_factory.mktemp("api-worker")))
    component.start()
    yield component
    assert component.alive(), component.log_tail()
    assert component.stop() == 0, component.log_tail()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def api(stack: Any, running_worker: Component) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings(stack.settings(), reply_timeout_s=REPLY_TIMEOUT_S)
    async with api_client(settings) as client:
        yield client


async def post(
    api: httpx.AsyncClient,
    path: str,
    body: dict[str, Any],
    key: str | None = None,
    as_: str | None = None,
) -> httpx.Response:
    """POST with the token of `as_` (default: the body's `account_id`)."""
    headers = bearer(as_ if as_ is not None else body["account_id"])
    if key:
        headers["Idempotency-Key"] = key
    return await api.post(path, json=body, headers=headers)


def accepted(response: httpx.Response, version: int) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["version"] == version, body
    return body


def refused(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["reason"] == reason, body
    assert set(body) == {"error_messages", "reason"}
    assert len(body["error_messages"]) == 1


async def create(api: httpx.AsyncClient, admin: str, **fields: Any) -> str:
    body = {"account_id": admin, "title": "t", "administrator_ids": [], "member_ids": [], **fields}
    response = await post(api, "/v1/threads/create", body)
    return str(accepted(response, 1)["thread_id"])


async def test_every_command_endpoint_accepts(api: httpx.AsyncClient) -> None:
    admin, other, member, guest = (new_id() for _ in range(4))
    parent = await create(api, admin)
    response = await post(
        api,
        "/v1/threads/create",
        {
            "account_id": admin,
            "title": "Lunch",
            "remarks": "Fridays",
            "parent_thread_id": parent,
            "administrator_ids": [],
            "member_ids": [member],
        },
    )
    created = accepted(response, 1)
    assert set(created) == {"thread_id", "command_id", "version"}
    thread = created["thread_id"]
    base = f"/v1/threads/{thread}"

    accepted(await post(api, f"{base}/administrator-ids/join", ids(admin, other)), 2)
    accepted(await post(api, f"{base}/administrator-ids/leave", ids(admin, other)), 3)
    accepted(await post(api, f"{base}/member-ids/join", ids(admin, guest)), 4)
    accepted(await post(api, f"{base}/member-ids/leave", ids(guest, guest)), 5)
    added = accepted(
        await post(
            api,
            f"{base}/messages/add",
            {
                "account_id": member,
                "messages": [
                    {"text": "noon?", "to_account_ids": [admin]},
                    {"text": "or 1pm", "reply_message_id": None},
                ],
            },
        ),
        6,
    )
    assert set(added) == {"thread_id", "command_id", "version", "message_ids"}
    first, second = added["message_ids"]
    assert first < second
    reply = accepted(
        await post(
            api,
            f"{base}/messages/add",
            {"account_id": admin, "messages": [{"text": "ok", "reply_message_id": first}]},
        ),
        7,
    )
    removed = accepted(
        await post(
            api,
            f"{base}/messages/remove",
            {"account_id": admin, "message_ids": [second, *reply["message_ids"], new_id()]},
        ),
        8,
    )
    assert removed["message_ids"] == [second, *reply["message_ids"]]
    # A command that changes nothing is accepted at the current version.
    accepted(await post(api, f"{base}/member-ids/join", ids(admin, member)), 8)
    accepted(await post(api, f"{base}/destroy", {"account_id": admin}), 9)


def ids(sender: str, *account_ids: str) -> dict[str, Any]:
    return {"account_id": sender, "account_ids": list(account_ids)}


async def test_rejections_map_to_statuses(api: httpx.AsyncClient) -> None:
    admin, member, stranger = (new_id() for _ in range(3))
    thread = await create(api, admin, member_ids=[member])
    base = f"/v1/threads/{thread}"

    refused(
        await post(api, f"/v1/threads/{new_id()}/destroy", {"account_id": admin}),
        404,
        "THREAD_NOT_FOUND",
    )
    refused(
        await post(api, f"{base}/member-ids/join", ids(member, stranger)),
        403,
        "SENDER_NOT_ADMINISTRATOR",
    )
    refused(
        await post(
            api, f"{base}/messages/add", {"account_id": stranger, "messages": [{"text": "hi"}]}
        ),
        403,
        "SENDER_NOT_MEMBER",
    )
    refused(
        await post(api, f"{base}/administrator-ids/leave", ids(admin, admin)),
        409,
        "LAST_ADMINISTRATOR",
    )
    refused(
        await post(
            api,
            f"{base}/messages/add",
            {"account_id": member, "messages": [{"text": "re", "reply_message_id": new_id()}]},
        ),
        422,
        "REPLY_TARGET_NOT_FOUND",
    )
    refused(
        await post(
            api,
            f"{base}/messages/add",
            {"account_id": member, "messages": [{"text": "psst", "to_account_ids": [stranger]}]},
        ),
        422,
        "RECIPIENT_NOT_MEMBER",
    )
    mine = accepted(
        await post(
            api, f"{base}/messages/add", {"account_id": admin, "messages": [{"text": "mine"}]}
        ),
        2,
    )
    refused(
        await post(
            api,
            f"{base}/messages/remove",
            {"account_id": member, "message_ids": mine["message_ids"]},
        ),
        403,
        "NOT_MESSAGE_SENDER",
    )
    accepted(await post(api, f"{base}/destroy", {"account_id": admin}), 3)
    refused(
        await post(
            api, f"{base}/messages/add", {"account_id": admin, "messages": [{"text": "anyone?"}]}
        ),
        409,
        "THREAD_DESTROYED",
    )
    refused(await post(api, f"{base}/destroy", {"account_id": admin}), 409, "THREAD_DESTROYED")


async def test_invalid_bodies_name_every_field_and_are_not_sent(api: httpx.AsyncClient) -> None:
    thread = new_id()
    response = await post(
        api,
        f"/v1/threads/{thread}/messages/add",
        {"account_id": "me", "messages": [{"text": ""}, {"text": "x" * 4097, "to_account_ids": 1}]},
        as_=new_id(),
    )
    assert response.status_code == 422
    assert response.json() == {
        "error_messages": [
            "messages[1].to_account_ids: must be an array",
            "account_id: must be a ULID (26 Crockford base32 characters)",
            "messages[0].text: must be 1..4096 characters long",
            "messages[1].text: must be 1..4096 characters long",
        ],
        "reason": "INVALID_COMMAND",
    }
    # Checked before producing: a valid command to the same (missing) thread is answered by
    # the worker with THREAD_NOT_FOUND, so the invalid one never reached it.
    response = await post(api, f"/v1/threads/{thread}/destroy", {"account_id": new_id()})
    refused(response, 404, "THREAD_NOT_FOUND")


async def test_a_retry_with_the_same_key_is_the_same_command(api: httpx.AsyncClient) -> None:
    admin = new_id()
    key = new_id()
    body = {"account_id": admin, "title": "once", "administrator_ids": [], "member_ids": []}
    first = accepted(await post(api, "/v1/threads/create", body, key), 1)
    again = accepted(await post(api, "/v1/threads/create", body, key), 1)
    assert first == again
    assert first["command_id"] == key

    base = f"/v1/threads/{first['thread_id']}"
    message_key = new_id()
    message = {"account_id": admin, "messages": [{"text": "hello"}]}
    posted = accepted(await post(api, f"{base}/messages/add", message, message_key), 2)
    assert accepted(await post(api, f"{base}/messages/add", message, message_key), 2) == posted
    # A new key is a new command.
    assert (
        accepted(await post(api, f"{base}/messages/add", message), 3)["message_ids"]
        != (posted["message_ids"])
    )

    bad = await post(api, "/v1/threads/create", body, "my-retry-1")
    assert bad.status_code == 422
    assert bad.json()["error_messages"] == [
        "Idempotency-Key: must be a ULID (26 Crockford base32 characters)"
    ]


async def test_a_reply_timeout_is_504_and_the_retry_gets_the_outcome(
    api: httpx.AsyncClient, stack: Any
) -> None:
    admin = new_id()
    key = new_id()
    body = {"account_id": admin, "title": "slow", "administrator_ids": [], "member_ids": []}
    impatient = api_settings(stack.settings(), reply_timeout_s=0.001)
    async with api_client(impatient) as hurried:
        response = await post(hurried, "/v1/threads/create", body, key)
    assert response.status_code == 504, response.text
    timeout = response.json()
    assert timeout["reason"] == "REPLY_TIMEOUT"
    assert timeout["command_id"] == key
    assert key in timeout["error_messages"][0]

    retried = accepted(await post(api, "/v1/threads/create", body, key), 1)
    assert retried["thread_id"] == timeout["thread_id"]
    assert retried["command_id"] == key


async def test_the_token_names_the_sender(api: httpx.AsyncClient) -> None:
    admin, member = new_id(), new_id()
    # No account_id in the body: the token's account creates, and is the administrator.
    created = await api.post(
        "/v1/threads/create",
        json={"title": "mine", "administrator_ids": [], "member_ids": [member]},
        headers=bearer(admin),
    )
    base = f"/v1/threads/{accepted(created, 1)['thread_id']}"
    join = {"account_ids": [new_id()]}
    # The member's token cannot add members; naming the administrator in the body is a 403
    # before the command is even sent, so the thread stays at version 1.
    refused(
        await api.post(f"{base}/member-ids/join", json=join, headers=bearer(member)),
        403,
        "SENDER_NOT_ADMINISTRATOR",
    )
    mismatch = await post(api, f"{base}/member-ids/join", {**join, "account_id": admin}, as_=member)
    refused(mismatch, 403, "ACCOUNT_MISMATCH")
    assert "account_id" in mismatch.json()["error_messages"][0]
    accepted(await api.post(f"{base}/member-ids/join", json=join, headers=bearer(admin)), 2)
    # Without a token nothing is sent at all.
    refused(await api.post(f"{base}/destroy", json={"account_id": admin}), 401, "MISSING_TOKEN")
    accepted(await post(api, f"{base}/destroy", {"account_id": admin}), 3)
