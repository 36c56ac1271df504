"""The document's links (what a client does next with an answer), derived from the route
table: stateful tests chain calls along them."""

from __future__ import annotations

from typing import Any

import pytest

from api.openapi import build_document
from api.routes import ENDPOINTS, TAGS

pytestmark = pytest.mark.unit

DOCUMENT = build_document(ENDPOINTS, TAGS)
THREAD_SCOPED = {
    op["operationId"]
    for path, item in DOCUMENT["paths"].items()
    for op in item.values()
    if "{thread_id}" in path
}


def links(path: str, method: str = "post") -> dict[str, Any]:
    ok = DOCUMENT["paths"][path][method]["responses"]["200"]
    result: dict[str, Any] = ok.get("links", {})
    return result


def test_a_created_thread_leads_to_every_operation_on_it() -> None:
    created = links("/v1/threads/create")
    assert set(created) == THREAD_SCOPED
    for name, link in created.items():
        assert link["operationId"] == name
        assert link["parameters"]["path.thread_id"] == "$response.body#/thread_id"
    # Queries read at least the version the command answered: read your writes.
    assert created["getThread"]["parameters"]["query.min_version"] == "$response.body#/version"
    assert "query.min_version" not in created["destroyThread"]["parameters"]


def test_added_messages_lead_to_their_removal() -> None:
    added = links("/v1/threads/{thread_id}/messages/add")
    assert added["removeMessages"]["requestBody"] == {"message_ids": "$response.body#/message_ids"}
    assert "requestBody" not in added["destroyThread"]
    assert "requestBody" not in links("/v1/threads/create")["removeMessages"]


def test_answers_without_ids_lead_nowhere() -> None:
    assert links("/v1/threads", "get") == {}
    assert links("/v1/threads/{thread_id}", "get") == {}
    assert links("/healthz", "get") == {}
