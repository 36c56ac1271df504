"""The whole path over real HTTP: `threadweaver api` (uvicorn) + worker + projector processes.

Every command endpoint, then every query endpoint with `min_version` set to the version the
command returned (read your writes, docs/guarantees.md): the effect is visible at once, or the
API waits for the projector. Visibility rules, rejections, reply-to and recipients are read
back on the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.client.commands import new_id
from pipeline.settings import Settings
from tests.support.api import api_processes
from tests.support.auth import bearer
from tests.support.projector import (
    ReadModel,
    create_read_model,
    drop_read_model,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Generous: the projector of a fresh read model first folds whatever the session's journal
# already holds.
MIN_VERSION_WAIT_S = 20.0


@pytest.fixture(scope="module")
def system(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings: Settings = stack.settings()
    logs = Path(tmp_path_factory.mktemp("api-e2e"))
    model: ReadModel = create_read_model(settings, "api")
    try:
        with (
            api_processes(
                settings,
                model,
                logs,
                THREADWEAVER_API_MIN_VERSION_WAIT_S=str(MIN_VERSION_WAIT_S),
                THREADWEAVER_API_REPLY_TIMEOUT_S="60",
            ) as (base_url, _),
            httpx.Client(base_url=base_url, timeout=MIN_VERSION_WAIT_S + 30) as client,
        ):
            yield client
    finally:
        drop_read_model(model, settings.pg_dsn or "")


class Caller:
    """One account talking to the API with its bearer token."""

    def __init__(self, http: httpx.Client, account_id: str) -> None:
        self.http = http
        self.id = account_id
        self.token = bearer(account_id)

    def command(self, path: str, **body: Any) -> httpx.Response:
        return self.http.post(path, json={"account_id": self.id, **body}, headers=self.token)

    def ok(self, path: str, **body: Any) -> dict[str, Any]:
        response = self.command(path, **body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def read(self, path: str, min_version: int | None = None, **params: Any) -> httpx.Response:
        query = {"account_id": self.id, **params}
        if min_version is not None:
            query["min_version"] = min_version
        return self.http.get(path, params=query, headers=self.token)

    def view(self, path: str, min_version: int | None = None, **params: Any) -> dict[str, Any]:
        response = self.read(path, min_version, **params)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


def invisible(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["reason"] == "THREAD_NOT_FOUND"


def test_commands_then_queries_read_their_writes(system: httpx.Client) -> None:
    alice, bob, carol, dave = (Caller(system, new_id()) for _ in range(4))

    parent = alice.ok("/v1/threads/create", title="Office", administrator_ids=[], member_ids=[])
    created = alice.ok(
        "/v1/threads/create",
        title="Lunch",
        remarks="Fridays",
        parent_thread_id=parent["thread_id"],
        administrator_ids=[],
        member_ids=[bob.id],
    )
    thread = f"/v1/threads/{created['thread_id']}"
    assert created["version"] == 1
    seen = bob.view(thread, min_version=1)["thread"]
    assert seen["id"] == created["thread_id"]
    assert (seen["title"], seen["remarks"], seen["version"]) == ("Lunch", "Fridays", 1)
    assert seen["parent_thread_id"] == parent["thread_id"]
    assert seen["creator_id"] == alice.id
    listed = bob.view("/v1/threads")["threads"]
    assert [t["id"] for t in listed] == [created["thread_id"]]
    invisible(carol.read(thread, min_version=1))
    # The token alone names the reader; without one, nothing is answered.
    alone = system.get(thread, headers=bob.token)
    assert alone.json()["thread"]["id"] == created["thread_id"]
    anonymous = system.get(thread, params={"account_id": bob.id})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer error="invalid_token"'

    v = alice.ok(f"{thread}/administrator-ids/join", account_ids=[carol.id])["version"]
    assert bob.view(f"{thread}/administrator-ids", v)["account_ids"] == sorted([alice.id, carol.id])
    assert carol.view(thread)["thread"]["version"] == v

    v = carol.ok(f"{thread}/administrator-ids/leave", account_ids=[carol.id])["version"]
    assert bob.view(f"{thread}/administrator-ids", v)["account_ids"] == [alice.id]
    invisible(carol.read(thread, v))

    v = alice.ok(f"{thread}/member-ids/join", account_ids=[dave.id])["version"]
    assert dave.view(f"{thread}/member-ids", v)["account_ids"] == sorted([bob.id, dave.id])

    added = bob.ok(
        f"{thread}/messages/add",
        messages=[{"text": "noon?", "to_account_ids": [alice.id, dave.id]}, {"text": "or 1"}],
    )
    question, alternative = added["message_ids"]
    answer = alice.ok(
        f"{thread}/messages/add",
        messages=[{"text": "noon", "reply_message_id": question, "to_account_ids": [bob.id]}],
    )
    (answer_id,) = answer["message_ids"]
    messages = dave.view(f"{thread}/messages", answer["version"])["messages"]
    assert [(m["id"], m["sender_id"], m["text"]) for m in messages] == [
        (question, bob.id, "noon?"),
        (alternative, bob.id, "or 1"),
        (answer_id, alice.id, "noon"),
    ]
    assert messages[0]["to_account_ids"] == [alice.id, dave.id]
    assert messages[2]["reply_message_id"] == question
    assert messages[2]["to_account_ids"] == [bob.id]
    first_page = dave.view(f"{thread}/messages", limit=2)
    rest = dave.view(f"{thread}/messages", limit=2, cursor=first_page["next_cursor"])
    assert [m["id"] for m in first_page["messages"] + rest["messages"]] == [
        question,
        alternative,
        answer_id,
    ]
    assert rest["next_cursor"] is None

    # Rejections come back as statuses, and change nothing.
    forbidden = dave.command(f"{thread}/messages/remove", message_ids=[answer_id])
    assert (forbidden.status_code, forbidden.json()["reason"]) == (403, "NOT_MESSAGE_SENDER")
    unknown = bob.command(
        f"{thread}/messages/add", messages=[{"text": "x", "to_account_ids": [carol.id]}]
    )
    assert (unknown.status_code, unknown.json()["reason"]) == (422, "RECIPIENT_NOT_MEMBER")

    removed = bob.ok(f"{thread}/messages/remove", message_ids=[alternative])
    assert removed["message_ids"] == [alternative]
    after_removal = dave.view(f"{thread}/messages", removed["version"])["messages"]
    assert [m["id"] for m in after_removal] == [question, answer_id]

    v = dave.ok(f"{thread}/member-ids/leave", account_ids=[dave.id])["version"]
    invisible(dave.read(f"{thread}/messages", v))
    assert bob.view(f"{thread}/member-ids", v)["account_ids"] == [bob.id]

    destroyed = alice.ok(f"{thread}/destroy")
    for reader in (alice, bob):
        invisible(reader.read(thread, destroyed["version"]))
        invisible(reader.read(f"{thread}/messages"))
    assert [t["id"] for t in alice.view("/v1/threads")["threads"]] == [parent["thread_id"]]
    gone = bob.command(f"{thread}/messages/add", messages=[{"text": "hello?"}])
    assert (gone.status_code, gone.json()["reason"]) == (409, "THREAD_DESTROYED")


def test_operational_endpoints_over_http(system: httpx.Client) -> None:
    assert system.get("/healthz").json() == {"status": "ok"}
    assert system.get("/readyz").json()["status"] == "ready"
    assert system.get("/openapi.json").json()["openapi"] == "3.1.0"
    assert "<script>" in system.get("/docs").text
    metrics = system.get("/metrics").text
    assert 'route="/v1/threads/{thread_id}/messages"' in metrics
    assert 'threadweaver_api_commands_total{command="AddMessages",outcome="accepted"' in metrics
