"""The OpenAPI 3.1 document, built from the route table (`api.routes.ENDPOINTS`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from api.schema import JsonSchema
from api.spec import Endpoint, Param, Reply

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
DESCRIPTION = (
    "Event-sourced chat threads. Queries read the PostgreSQL read model; commands are "
    "produced to Kafka and answered by the thread's worker. Every error is "
    '`{"error_messages": [...], "reason": "..."}`.'
)


def _parameter(param: Param, refs: dict[str, JsonSchema]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": param.name,
        "in": param.location,
        # OpenAPI requires path parameters to be required.
        "required": param.required or param.location == "path",
        "schema": param.schema.json_schema(refs),
    }
    if param.description:
        doc["description"] = param.description
    return doc


def _response(reply: Reply, refs: dict[str, JsonSchema]) -> dict[str, Any]:
    doc: dict[str, Any] = {"description": reply.description}
    if reply.schema is not None:
        doc["content"] = {reply.media_type: {"schema": reply.schema.json_schema(refs)}}
    return doc


def _operation(endpoint: Endpoint, refs: dict[str, JsonSchema]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
    }
    if endpoint.description:
        doc["description"] = endpoint.description
    if endpoint.params:
        doc["parameters"] = [_parameter(p, refs) for p in endpoint.params]
    if endpoint.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": endpoint.body.json_schema(refs)}},
        }
    doc["responses"] = {str(r.status): _response(r, refs) for r in endpoint.responses}
    return doc


def build_document(
    endpoints: Sequence[Endpoint], tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    refs: dict[str, JsonSchema] = {}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        item = paths.setdefault(endpoint.path, {})
        method = endpoint.method.lower()
        if method in item:
            raise ValueError(f"two endpoints for {endpoint.method} {endpoint.path}")
        item[method] = _operation(endpoint, refs)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Threadweaver API", "version": API_VERSION, "description": DESCRIPTION},
        "tags": [{"name": name, "description": text} for name, text in (tags or {}).items()],
        "paths": paths,
        "components": {"schemas": dict(sorted(refs.items()))},
    }
