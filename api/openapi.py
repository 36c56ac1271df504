"""The OpenAPI 3.1 document, built from the route table (`api.routes.ENDPOINTS`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from api.schema import JsonSchema, Object
from api.spec import Endpoint, Param, Reply

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
BEARER_SCHEME = "bearerAuth"
BEARER_SECURITY = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A JWT whose `sub` is the caller's account id, signed with the "
    "deployment's key (HS256 or RS256) and not expired. `account_id` defaults to it.",
}
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
    if reply.headers:
        doc["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in reply.headers.items()
        }
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
    if endpoint.account_in is not None:
        doc["security"] = [{BEARER_SCHEME: []}]
    return doc


def _names(schema: object) -> set[str]:
    return {prop.name for prop in schema.props} if isinstance(schema, Object) else set()


def _links(source: Endpoint, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """The links of `source`'s 200 answer (what a client does next with it): a result naming
    a thread leads to every operation on that thread (a query reads at least the result's
    version: read your writes), and one naming messages to the operations taking message ids.
    Stateful tests (schemathesis) chain calls along them."""
    ok = next((reply for reply in source.responses if reply.status == 200), None)
    produced = _names(ok.schema) if ok is not None else set()
    links: dict[str, Any] = {}
    for target in endpoints:
        params = {param.name for param in target.params}
        link: dict[str, Any] = {"operationId": target.operation_id}
        if "thread_id" in produced and "thread_id" in params:
            link["parameters"] = {"path.thread_id": "$response.body#/thread_id"}
            if "version" in produced and "min_version" in params:
                link["parameters"]["query.min_version"] = "$response.body#/version"
        if "message_ids" in produced and "message_ids" in _names(target.body):
            link["requestBody"] = {"message_ids": "$response.body#/message_ids"}
        if len(link) > 1:
            links[target.operation_id] = link
    return links


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
        links = _links(endpoint, endpoints)
        if links:
            item[method]["responses"]["200"]["links"] = links
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Threadweaver API", "version": API_VERSION, "description": DESCRIPTION},
        "tags": [{"name": name, "description": text} for name, text in (tags or {}).items()],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(refs.items())),
            "securitySchemes": {BEARER_SCHEME: BEARER_SECURITY},
        },
    }
