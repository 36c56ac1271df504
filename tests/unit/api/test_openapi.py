"""The OpenAPI document: valid 3.1, complete (every route of the table, every path
parameter), consistent with the app's routes and with the request checks."""

from __future__ import annotations

import json
import re
from typing import Any

import openapi_spec_validator
import pytest
from starlette.routing import Mount, Route

from api.app import create_app
from api.models import ULID_EXAMPLE
from api.openapi import build_document
from api.routes import ENDPOINTS, TAGS
from api.spec import Endpoint
from api.swagger import SwaggerAssets
from pipeline.settings import ApiSettings, Settings
from tests.support.auth import auth_settings

pytestmark = pytest.mark.unit

DOCUMENT = build_document(ENDPOINTS, TAGS)
CONTRACT = {
    # The v1 routes (docs/architecture.md, HTTP API), written out: the table must serve
    # exactly these.
    ("GET", "/v1/threads/{thread_id}"),
    ("GET", "/v1/threads"),
    ("GET", "/v1/threads/{thread_id}/administrator-ids"),
    ("GET", "/v1/threads/{thread_id}/member-ids"),
    ("GET", "/v1/threads/{thread_id}/messages"),
    ("POST", "/v1/threads/create"),
    ("POST", "/v1/threads/{thread_id}/destroy"),
    ("POST", "/v1/threads/{thread_id}/administrator-ids/join"),
    ("POST", "/v1/threads/{thread_id}/administrator-ids/leave"),
    ("POST", "/v1/threads/{thread_id}/member-ids/join"),
    ("POST", "/v1/threads/{thread_id}/member-ids/leave"),
    ("POST", "/v1/threads/{thread_id}/messages/add"),
    ("POST", "/v1/threads/{thread_id}/messages/remove"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
}


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in DOCUMENT["paths"].items()
        for method, op in item.items()
    ]


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    openapi_spec_validator.validate(DOCUMENT)


def test_every_route_of_the_table_and_of_the_contract_is_documented() -> None:
    documented = {(method, path) for method, path, _ in operations()}
    assert documented == {(e.method, e.path) for e in ENDPOINTS}
    assert documented == CONTRACT


def test_the_app_serves_exactly_the_table() -> None:
    app = create_app(Settings(api=ApiSettings(auth=auth_settings())))
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert served == CONTRACT
    # Besides the table, only Swagger UI's files, below the page.
    (mount,) = [route for route in app.routes if not isinstance(route, Route)]
    assert isinstance(mount, Mount)
    assert (mount.path, type(mount.app)) == ("/docs", SwaggerAssets)
    assert json.loads(app.state.openapi_json) == DOCUMENT


def test_operation_ids_are_unique_and_every_operation_is_tagged() -> None:
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids))
    tags = {t["name"] for t in DOCUMENT["tags"]}
    assert all(op["tags"][0] in tags for _, _, op in operations())


def test_path_parameters_match_the_templates() -> None:
    for _, path, op in operations():
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), path


def test_every_reference_resolves() -> None:
    text = json.dumps(DOCUMENT)
    for name in re.findall(r'"#/components/schemas/(\w+)"', text):
        assert name in DOCUMENT["components"]["schemas"], name


def test_structure_of_the_contract() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert set(schemas["Thread"]["properties"]) == {
        "id", "creator_id", "parent_thread_id", "title", "remarks", "created_at",
        "updated_at", "version",
    }  # fmt: skip
    assert set(schemas["Message"]["properties"]) == {
        "id", "sender_id", "text", "reply_message_id", "to_account_ids", "created_at",
    }  # fmt: skip
    assert set(schemas["Error"]["required"]) == {"error_messages", "reason"}
    assert "command_id" in schemas["ReplyTimeout"]["properties"]
    for method, path, op in operations():
        if path.startswith("/v1/"):
            assert "422" in op["responses"], path
            assert "200" in op["responses"], path
        if method == "POST":
            assert {"403", "404", "409", "422", "504"} <= set(op["responses"]), path
            assert "Idempotency-Key" in {p["name"] for p in op["parameters"]}
            body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            # Optional: the bearer token's account by default.
            assert "account_id" in schemas[body.rsplit("/", 1)[1]]["properties"]
            assert "account_id" not in schemas[body.rsplit("/", 1)[1]].get("required", [])
        if method == "GET" and path.startswith("/v1/threads/{thread_id}"):
            assert "min_version" in {p["name"] for p in op["parameters"]}
            assert "404" in op["responses"]
            assert "409" in op["responses"]


def example_of(schema: Any, schemas: dict[str, Any]) -> Any:
    """The value the docs page would pre-fill (the same rules, in Python)."""
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        return example_of(schema["anyOf"][0], schemas)
    if "examples" in schema:
        return schema["examples"][0]
    if schema["type"] == "object":
        return {k: example_of(v, schemas) for k, v in schema["properties"].items()}
    if schema["type"] == "array":
        return [example_of(schema["items"], schemas)]
    return {"string": "text", "integer": schema.get("minimum", 0)}[schema["type"]]


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.body], ids=lambda e: e.path)
def test_documented_examples_pass_the_request_checks(endpoint: Endpoint) -> None:
    assert endpoint.body is not None
    assert endpoint.check is not None
    schemas = DOCUMENT["components"]["schemas"]
    operation = DOCUMENT["paths"][endpoint.path]["post"]
    example = example_of(operation["requestBody"]["content"]["application/json"]["schema"], schemas)
    assert example["account_id"] == ULID_EXAMPLE
    # The body's shape (its model), then its values (the domain's rules, as the API runs them).
    body = endpoint.body.model_validate(example)
    assert list(endpoint.check({"thread_id": ULID_EXAMPLE}, ULID_EXAMPLE, body)) == []


def test_every_v1_operation_needs_a_bearer_token_and_nothing_else_does() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes == {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": schemes["bearerAuth"]["description"],
        }
    }
    for _, path, op in operations():
        if path.startswith("/v1/"):
            assert op["security"] == [{"bearerAuth": []}], path
            assert {"401", "403"} <= set(op["responses"]), path
            challenge = op["responses"]["401"]["headers"]["WWW-Authenticate"]
            assert challenge["schema"] == {"type": "string"}
            account = [p for p in op.get("parameters", []) if p["name"] == "account_id"]
            assert all(not p["required"] for p in account), path
        else:
            assert "security" not in op, path
            assert "401" not in op["responses"], path
    assert {"MISSING_TOKEN", "INVALID_TOKEN", "ACCOUNT_MISMATCH"} <= set(
        DOCUMENT["components"]["schemas"]["Error"]["properties"]["reason"]["enum"]
    )
