"""The OpenAPI 3.1 document, generated from the route table (`api.routes.ENDPOINTS`) and the
pydantic models it names (`api.models`): pydantic writes every schema (JSON Schema 2020-12,
which OpenAPI 3.1 uses as is); this module only lays them out as operations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from api.spec import Endpoint, JsonSchema, Reply

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
REF_TEMPLATE = "#/components/schemas/{model}"
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

# A model and how it is used: request bodies are validated, answers serialized.
_Key = tuple[type, JsonSchemaMode]


def _schemas(endpoints: Sequence[Endpoint]) -> tuple[dict[_Key, JsonSchema], JsonSchema]:
    """Each model's schema (a $ref) and the components they refer to, generated together so
    that a model used in several places is one component."""
    keys: dict[_Key, None] = {}
    for endpoint in endpoints:
        if endpoint.body is not None:
            keys[(endpoint.body, "validation")] = None
        for reply in endpoint.responses:
            if isinstance(reply.schema, type):
                keys[(reply.schema, "serialization")] = None
    refs, top = TypeAdapter.json_schemas(
        [(key, key[1], TypeAdapter(key[0])) for key in keys], ref_template=REF_TEMPLATE
    )
    return {key: schema for (key, _), schema in refs.items()}, top.get("$defs", {})


def _without_null(schema: JsonSchema) -> JsonSchema:
    """An optional parameter's schema: absent is how a parameter says "none", so pydantic's
    `X | None` reads as X (and a null default as no default)."""
    options = schema.get("anyOf")
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    if rest.get("default", 0) is None:
        del rest["default"]
    if options is not None:
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            return {**kept[0], **rest}
        rest["anyOf"] = kept
    return rest


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    model = endpoint.params_model
    if model is None:
        return []
    properties = model.model_json_schema(ref_template=REF_TEMPLATE)["properties"]
    documented = []
    for param in endpoint.params:
        schema = _without_null(properties[param.name])
        schema.pop("title", None)
        schema.pop("description", None)  # it is the parameter's, below
        doc: dict[str, Any] = {
            "name": param.name,
            "in": param.location.value,
            # OpenAPI requires path parameters to be required.
            "required": param.required or param.location == "path",
            "schema": schema,
        }
        if param.description:
            doc["description"] = param.description
        documented.append(doc)
    return documented


def _response(reply: Reply, schemas: Mapping[_Key, JsonSchema]) -> dict[str, Any]:
    doc: dict[str, Any] = {"description": reply.description}
    if isinstance(reply.schema, type):
        schema = schemas[(reply.schema, "serialization")]
        doc["content"] = {reply.media_type: {"schema": schema}}
    elif reply.schema is not None:
        doc["content"] = {reply.media_type: {"schema": reply.schema}}
    if reply.headers:
        doc["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in reply.headers.items()
        }
    return doc


def _operation(endpoint: Endpoint, schemas: Mapping[_Key, JsonSchema]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
    }
    if endpoint.description:
        doc["description"] = endpoint.description
    parameters = _parameters(endpoint)
    if parameters:
        doc["parameters"] = parameters
    if endpoint.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas[(endpoint.body, "validation")]}},
        }
    doc["responses"] = {str(r.status): _response(r, schemas) for r in endpoint.responses}
    if endpoint.account_in is not None:
        doc["security"] = [{BEARER_SCHEME: []}]
    return doc


def _fields(model: object) -> set[str]:
    """The field names of a model (a BaseModel or a TypedDict)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return set(model.model_fields)
    return set(getattr(model, "__annotations__", {}))


def _links(source: Endpoint, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """The links of `source`'s 200 answer (what a client does next with it): a result naming
    a thread leads to every operation on that thread (a query reads at least the result's
    version: read your writes), and one naming messages to the operations taking message ids.
    Stateful tests (schemathesis) chain calls along them."""
    ok = next((reply for reply in source.responses if reply.status == 200), None)
    produced = _fields(ok.schema) if ok is not None else set()
    links: dict[str, Any] = {}
    for target in endpoints:
        params = {param.name for param in target.params}
        link: dict[str, Any] = {"operationId": target.operation_id}
        if "thread_id" in produced and "thread_id" in params:
            link["parameters"] = {"path.thread_id": "$response.body#/thread_id"}
            if "version" in produced and "min_version" in params:
                link["parameters"]["query.min_version"] = "$response.body#/version"
        if "message_ids" in produced and "message_ids" in _fields(target.body):
            link["requestBody"] = {"message_ids": "$response.body#/message_ids"}
        if len(link) > 1:
            links[target.operation_id] = link
    return links


def build_document(
    endpoints: Sequence[Endpoint], tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    schemas, components = _schemas(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        item = paths.setdefault(endpoint.path, {})
        method = endpoint.method.lower()
        if method in item:
            raise ValueError(f"two endpoints for {endpoint.method} {endpoint.path}")
        item[method] = _operation(endpoint, schemas)
        links = _links(endpoint, endpoints)
        if links:
            item[method]["responses"]["200"]["links"] = links
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Threadweaver API", "version": API_VERSION, "description": DESCRIPTION},
        "tags": [{"name": name, "description": text} for name, text in (tags or {}).items()],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {BEARER_SCHEME: BEARER_SECURITY},
        },
    }
