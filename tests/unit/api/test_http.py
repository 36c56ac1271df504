"""The HTTP layer in-process, before any handler touches Postgres or Kafka: the request
checks, the error shape of framework errors, the operational pages. No lifespan runs, so
nothing connects anywhere. Requests carry ALICE's bearer token (tests/unit/api/test_auth.py
covers the token checks)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from pipeline.settings import ApiSettings, Settings
from tests.support.auth import auth_settings, bearer
from tests.support.builders import ALICE, BOB, THREAD

pytestmark = pytest.mark.unit

LIMIT = 2_000


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(api=ApiSettings(body_limit_bytes=LIMIT, auth=auth_settings())))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=bearer(ALICE)
    ) as http:
        yield http


async def test_unknown_route_and_wrong_method_answer_in_the_error_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v2/nothing")
    assert response.status_code == 404
    assert response.json() == {
        "error_messages": ["no route for GET /v2/nothing"],
        "reason": "NOT_FOUND",
    }
    response = await client.delete(f"/v1/threads/{THREAD}")
    assert response.status_code == 405
    assert response.json()["reason"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["allow"]


async def test_query_parameters_are_checked_and_every_bad_one_named(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/v1/threads/not-a-thread/messages", params={"limit": "500", "min_version": "-1"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "error_messages": [
            "thread_id: must be a ULID (26 Crockford base32 characters)",
            "min_version: must be an integer >= 0",
            "limit: must be an integer from 1 to 200",
        ],
        "reason": "INVALID_REQUEST",
    }


async def test_an_empty_thread_id_is_an_unknown_route_not_a_redirect(
    client: httpx.AsyncClient,
) -> None:
    for method, path in [("GET", "/v1/threads/"), ("POST", "/v1/threads//destroy")]:
        response = await client.request(method, path, json={})
        assert response.status_code == 404, (path, response.status_code)
        assert response.json()["reason"] == "NOT_FOUND"


async def test_a_get_on_the_create_path_is_a_bad_thread_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/threads/create", params={"account_id": ALICE})
    assert response.status_code == 422
    assert response.json()["error_messages"] == [
        "thread_id: must be a ULID (26 Crockford base32 characters)"
    ]


async def test_command_bodies_name_every_bad_field_shape_and_value(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "account_id": "nobody",
        "title": "x" * 300,
        "administrator_ids": "everyone",
        "member_ids": [BOB, "bob"],
        "remarks": 5,
        "colour": "red",
    }
    response = await client.post(
        "/v1/threads/create", json=body, headers={"Idempotency-Key": "retry-1"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "error_messages": [
            "Idempotency-Key: must be a ULID (26 Crockford base32 characters)",
            "colour: is not a known field",
            "remarks: must be a string",
            "administrator_ids: must be an array",
            # Then the domain's value rules (pipeline.domain.validation), in its order.
            "account_id: must be a ULID (26 Crockford base32 characters)",
            "title: must be 1..255 characters long",
            "member_ids[1]: must be a ULID (26 Crockford base32 characters)",
        ],
        "reason": "INVALID_COMMAND",
    }


async def test_nested_message_fields_are_named(client: httpx.AsyncClient) -> None:
    body = {
        "account_id": ALICE,
        "messages": [
            {"text": "fine"},
            {"text": "", "to_account_ids": ["x"]},
            {"reply_message_id": 3},
        ],
    }
    response = await client.post(f"/v1/threads/{THREAD}/messages/add", json=body)
    assert response.status_code == 422
    assert response.json()["error_messages"] == [
        "messages[2].text: is required",
        "messages[2].reply_message_id: must be a string",
        "messages[1].text: must be 1..4096 characters long",
        "messages[1].to_account_ids[0]: must be a ULID (26 Crockford base32 characters)",
    ]


async def test_an_empty_body_names_the_missing_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/v1/threads/{THREAD}/member-ids/join")
    assert response.status_code == 422
    # account_id is the token's account.
    assert response.json()["error_messages"] == ["account_ids: is required"]


@pytest.mark.parametrize(
    ("content", "status", "reason"),
    [
        (b"{not json", 400, "MALFORMED_JSON"),
        (b'{"account_id": NaN}', 400, "MALFORMED_JSON"),
        (b"\xff\xfe\x00", 400, "MALFORMED_JSON"),
        # Half a UTF-16 pair is no text: it could be neither produced nor echoed back.
        (b'{"account_id": "\\ud800"}', 400, "MALFORMED_JSON"),
        (b'{"\\udfff": 1}', 400, "MALFORMED_JSON"),
        (b"[1, 2]", 422, "INVALID_COMMAND"),
        (b'{"account_id": "' + b"x" * LIMIT + b'"}', 413, "PAYLOAD_TOO_LARGE"),
    ],
)
async def test_body_errors_are_json(
    client: httpx.AsyncClient, content: bytes, status: int, reason: str
) -> None:
    response = await client.post(
        f"/v1/threads/{THREAD}/destroy",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["reason"] == reason


async def test_a_chunked_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 500

    response = await client.post(
        f"/v1/threads/{THREAD}/destroy",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_only_json_bodies(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/v1/threads/{THREAD}/destroy", data={"account_id": ALICE})
    assert response.status_code == 415
    assert response.json()["reason"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_operational_pages(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    page = await client.get("/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert "openapi.json" in page.text
    assert "script-src 'sha256-" in page.headers["content-security-policy"]
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    # Labelled by template, never by the raw path of a request.
    assert 'route="/v1/threads/{thread_id}/messages"' in metrics.text
    assert 'route="<unmatched>"' in metrics.text
    assert "not-a-thread" not in metrics.text
    assert json.loads((await client.get("/openapi.json")).content) == document
