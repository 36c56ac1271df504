"""What an endpoint is (method, path, parameter and body models, answers, handler) and the one
request runner: authenticate, validate the parameters and the body with their pydantic
models (`api.models`), apply the endpoint's own check (a command's domain rules), then call
the handler.

The route table (`api.routes.ENDPOINTS`) is made of these; the Starlette routes, the request
checks and the OpenAPI document are all derived from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, Literal, TypeVar, assert_never

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from api.auth import ACCOUNT_FIELD, acting_account, authenticator
from api.errors import ApiError, HttpReason, invalid
from api.models import ParamIn
from api.validation import merge_problems, problems_of, validate_body
from pipeline.domain import Problem

# Where an endpoint names the account it acts as (`account_id`), checked against the bearer
# token's; endpoints without one are public.
AccountIn = Literal["query", "body"]
# Where the runner leaves the matched route template, for the metrics middleware.
ROUTE_SCOPE_KEY = "threadweaver.route"
# The acting account, in the validation context of parameter models (a cursor of the
# caller's thread list belongs to that account).
ACCOUNT_CONTEXT = "account"
JsonSchema = dict[str, Any]

P = TypeVar("P")
B = TypeVar("B")


@dataclass(frozen=True, slots=True)
class Param:
    """One field of a parameter model, as the wire names it."""

    name: str
    location: ParamIn
    required: bool
    description: str


@cache
def parameters(model: type[BaseModel] | None) -> tuple[Param, ...]:
    """The parameters of `model`, in its fields' order; each field says where it travels."""
    if model is None:
        return ()
    found = []
    for name, info in model.model_fields.items():
        where = [m for m in info.metadata if isinstance(m, ParamIn)]
        if len(where) != 1:
            raise TypeError(f"{model.__name__}.{name}: mark it PATH, QUERY or HEADER once")
        found.append(
            Param(info.alias or name, where[0], info.is_required(), info.description or "")
        )
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Reply:
    """One documented answer of an endpoint."""

    status: int
    description: str
    # A model (a TypedDict or a BaseModel), a raw JSON Schema, or no content.
    schema: type | JsonSchema | None = None
    media_type: str = "application/json"
    # Response headers: name -> description.
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Call(Generic[P, B]):
    """A checked request: the acting account ("" on public endpoints), the parameters and the
    body as their models."""

    account: str
    params: P
    body: B


Handler = Callable[[Request, Call[Any, Any]], Awaitable[Response]]
# An endpoint's own check (a command's domain rules) on the parameters as sent, the acting
# account and the body (neutral where it failed): it runs even when some inputs are bad, so
# that one answer names every bad field.
Check = Callable[[Mapping[str, str], str, Any], Sequence[Problem]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    handler: Handler
    params_model: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    responses: tuple[Reply, ...] = ()
    description: str = ""
    check: Check | None = None
    # The `reason` of a 422 from this endpoint.
    invalid_reason: str = HttpReason.INVALID_REQUEST
    # None: a public endpoint (no bearer token needed).
    account_in: AccountIn | None = None

    @property
    def params(self) -> tuple[Param, ...]:
        return parameters(self.params_model)


def _raw_params(request: Request, endpoint: Endpoint) -> dict[str, str]:
    """The endpoint's parameters as sent (text), by their wire names."""
    raw: dict[str, str] = {}
    for param in endpoint.params:
        value: str | None
        match param.location:
            case ParamIn.PATH:
                value = request.path_params.get(param.name)
            case ParamIn.QUERY:
                value = request.query_params.get(param.name)
            case ParamIn.HEADER:
                value = request.headers.get(param.name)
            case unexpected:
                assert_never(unexpected)
        if value is not None:
            raw[param.name] = str(value)
    return raw


def _validate_params(
    model: type[BaseModel] | None, raw: Mapping[str, str], account: str
) -> tuple[BaseModel | None, list[Problem]]:
    if model is None:
        return None, []
    try:
        return model.model_validate(raw, context={ACCOUNT_CONTEXT: account}), []
    except ValidationError as error:
        return None, problems_of(error, model)


async def read_json(request: Request, limit: int) -> object:
    """The body as JSON, at most `limit` bytes; an empty body reads as `{}` so that the
    answer names the missing fields."""
    content_type = request.headers.get("content-type")
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        # Requiring JSON also keeps plain HTML forms of other sites from posting commands
        # (a cross-origin JSON request needs a CORS preflight, which this API never grants).
        if media and media != "application/json" and not media.endswith("+json"):
            raise ApiError(
                415,
                HttpReason.UNSUPPORTED_MEDIA_TYPE,
                [f"the body must be JSON (Content-Type: application/json), not {media}"],
            )
    too_large = ApiError(
        413, HttpReason.PAYLOAD_TOO_LARGE, [f"the body must be at most {limit} bytes"]
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    if not body.strip():
        return {}
    try:
        # orjson refuses what is no JSON text (NaN, Infinity) and what is no Unicode text
        # (half a UTF-16 pair, `"\ud800"`): a command holding one could not be produced, nor
        # an answer naming it be sent.
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            400, HttpReason.MALFORMED_JSON, [f"the body is not valid JSON: {exc}"]
        ) from exc


async def run(endpoint: Endpoint, request: Request, body_limit: int) -> Response:
    """Check the request against `endpoint`, then call its handler (ApiError -> its answer)."""
    request.scope[ROUTE_SCOPE_KEY] = endpoint.path
    try:
        # First: an unauthenticated request learns nothing else, and nothing is produced.
        caller = authenticator(request).caller(request) if endpoint.account_in else None
        raw = _raw_params(request, endpoint)
        body_raw = await read_json(request, body_limit) if endpoint.body is not None else None
        account = ""
        # After the parameters' and the body's: a missing account_id (no authentication)
        # is named after the fields that were sent wrong.
        account_problems: list[Problem] = []
        match endpoint.account_in:
            case "query":
                account = acting_account(raw.get(ACCOUNT_FIELD), caller, account_problems)
            case "body":
                stated = body_raw.get(ACCOUNT_FIELD) if isinstance(body_raw, dict) else None
                account = acting_account(stated, caller, account_problems)
            case None:
                pass
            case unexpected:
                assert_never(unexpected)
        params, problems = _validate_params(endpoint.params_model, raw, account)
        body = None
        if endpoint.body is not None:
            body, body_problems = validate_body(endpoint.body, body_raw)
            problems += body_problems
        problems += account_problems
        if endpoint.check is not None:
            problems = merge_problems(problems, endpoint.check(raw, account, body))
        if problems:
            raise invalid(problems, endpoint.invalid_reason)
        return await endpoint.handler(request, Call(account, params, body))
    except ApiError as exc:
        return exc.response()


def starlette_endpoint(
    endpoint: Endpoint, body_limit: int
) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        return await run(endpoint, request, body_limit)

    handle.__name__ = endpoint.operation_id
    return handle
