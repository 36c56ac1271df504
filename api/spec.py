"""What an endpoint is (method, path, parameters, body, responses, handler) and the one
request runner that checks a request against it before the handler runs.

The route table (`api.routes.ENDPOINTS`) is made of these; the Starlette routes, the request
checks and the OpenAPI document are all derived from it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, assert_never

from starlette.requests import Request
from starlette.responses import Response

from api.auth import ACCOUNT_FIELD, acting_account, authenticator
from api.errors import ApiError, HttpReason, invalid
from api.schema import Integer, Object, Schema, merge_problems
from pipeline.domain import Problem

Location = Literal["path", "query", "header"]
# Where an endpoint names the account it acts as (`account_id`), checked against the bearer
# token's; endpoints without one are public.
AccountIn = Literal["query", "body"]
# Where the runner leaves the matched route template, for the metrics middleware.
ROUTE_SCOPE_KEY = "threadweaver.route"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    location: Location
    schema: Schema
    required: bool = False
    description: str = ""

    @property
    def default(self) -> Any:
        return self.schema.default if isinstance(self.schema, Integer) else None


@dataclass(frozen=True, slots=True)
class Reply:
    """One documented response of an endpoint."""

    status: int
    description: str
    schema: Schema | None = None
    media_type: str = "application/json"
    # Response headers: name -> description.
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Inputs:
    """A request's checked parameters (path, query and header, by name) and body."""

    params: Mapping[str, Any]
    body: Mapping[str, Any] = field(default_factory=dict)

    def text(self, name: str) -> str:
        value = self.params[name]
        assert isinstance(value, str), name
        return value

    def optional_text(self, name: str) -> str | None:
        value = self.params.get(name)
        assert value is None or isinstance(value, str), name
        return value

    def integer(self, name: str) -> int:
        value = self.params[name]
        assert isinstance(value, int), name
        return value

    def optional_integer(self, name: str) -> int | None:
        value = self.params.get(name)
        assert value is None or isinstance(value, int), name
        return value


Handler = Callable[[Request, Inputs], Awaitable[Response]]
# Checks that need several inputs at once (a cursor and its list, a whole command); run on
# shape-checked inputs even when some are bad, so that one answer names every bad field.
Validator = Callable[[Inputs], Sequence[Problem]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    handler: Handler
    params: tuple[Param, ...] = ()
    body: Object | None = None
    responses: tuple[Reply, ...] = ()
    description: str = ""
    validate: Validator | None = None
    # The `reason` of a 422 from this endpoint.
    invalid_reason: str = HttpReason.INVALID_REQUEST
    # None: a public endpoint (no bearer token needed).
    account_in: AccountIn | None = None


def _raw_param(request: Request, param: Param) -> str | None:
    match param.location:
        case "path":
            value = request.path_params.get(param.name)
            return None if value is None else str(value)
        case "query":
            return request.query_params.get(param.name)
        case "header":
            return request.headers.get(param.name)


def _check_params(request: Request, endpoint: Endpoint, problems: list[Problem]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for param in endpoint.params:
        raw = _raw_param(request, param)
        if raw is None:
            if param.required:
                problems.append(Problem(param.name, "is required"))
                params[param.name] = param.schema.neutral()
            else:
                params[param.name] = param.default
            continue
        before = len(problems)
        value = param.schema.parse_text(raw, param.name, problems)
        if len(problems) == before:
            value = param.schema.check(value, param.name, problems, values=True)
        params[param.name] = value if len(problems) == before else param.schema.neutral()
    return params


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


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
        value = json.loads(body, parse_constant=_reject_constant)
        if b"\\u" in body:
            _reject_lone_surrogates(value)
    except (ValueError, RecursionError) as exc:
        raise ApiError(
            400, HttpReason.MALFORMED_JSON, [f"the body is not valid JSON: {exc}"]
        ) from exc
    return value


def _reject_lone_surrogates(value: object) -> None:
    """JSON can escape half a UTF-16 pair (`"\\ud800"`), which is no text: it cannot be
    encoded to UTF-8, so a command holding one could not be produced (nor an answer naming it
    be sent)."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise ValueError("a string holds a lone UTF-16 surrogate (not Unicode text)") from exc


async def run(endpoint: Endpoint, request: Request, body_limit: int) -> Response:
    """Check the request against `endpoint`, then call its handler (ApiError -> its answer)."""
    request.scope[ROUTE_SCOPE_KEY] = endpoint.path
    try:
        # First: an unauthenticated request learns nothing else, and nothing is produced.
        caller = authenticator(request).caller(request) if endpoint.account_in else None
        problems: list[Problem] = []
        params = _check_params(request, endpoint, problems)
        body: Mapping[str, Any] = {}
        if endpoint.body is not None:
            raw = await read_json(request, body_limit)
            body = endpoint.body.check(raw, "", problems, values=False)
        match endpoint.account_in:
            case "query":
                account = acting_account(params.get(ACCOUNT_FIELD), caller, problems)
                params = {**params, ACCOUNT_FIELD: account}
            case "body":
                account = acting_account(body.get(ACCOUNT_FIELD), caller, problems)
                body = {**body, ACCOUNT_FIELD: account}
            case None:
                pass
            case unexpected:
                assert_never(unexpected)
        inputs = Inputs(params, body)
        if endpoint.validate is not None:
            problems = merge_problems(problems, endpoint.validate(inputs))
        if problems:
            raise invalid(problems, endpoint.invalid_reason)
        return await endpoint.handler(request, inputs)
    except ApiError as exc:
        return exc.response()


def starlette_endpoint(
    endpoint: Endpoint, body_limit: int
) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        return await run(endpoint, request, body_limit)

    handle.__name__ = endpoint.operation_id
    return handle
