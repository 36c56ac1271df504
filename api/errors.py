"""One error shape for every failure: `{"error_messages": [...], "reason": "..."}`
(docs/architecture.md, HTTP API), the table from a domain rejection to its HTTP status, and
the handlers that turn framework exceptions (unknown route, wrong method, a bug) into that
shape.

docs/adr/0007-http-api.md explains the table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from api.responses import JsonResponse
from pipeline.domain import Problem, RejectionReason

log = logging.getLogger("threadweaver.api")


class HttpReason(StrEnum):
    """Reasons of failures that are not domain rejections."""

    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    INVALID_REQUEST = "INVALID_REQUEST"
    MALFORMED_JSON = "MALFORMED_JSON"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    # 401: no bearer token / one that does not verify; 403: `account_id` is not the token's.
    MISSING_TOKEN = "MISSING_TOKEN"
    INVALID_TOKEN = "INVALID_TOKEN"
    ACCOUNT_MISMATCH = "ACCOUNT_MISMATCH"
    STALE_VIEW = "STALE_VIEW"
    REPLY_TIMEOUT = "REPLY_TIMEOUT"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


R = RejectionReason
REJECTION_STATUS: Mapping[RejectionReason, int] = MappingProxyType(
    {
        # Missing (or, for queries, invisible): the caller cannot tell the two apart.
        R.THREAD_NOT_FOUND: 404,
        # Permission: the thread exists and the sender may not do this.
        R.SENDER_NOT_ADMINISTRATOR: 403,
        R.SENDER_NOT_MEMBER: 403,
        R.NOT_MESSAGE_SENDER: 403,
        # State conflicts: the same request may succeed once the thread's state differs.
        R.THREAD_ALREADY_EXISTS: 409,
        R.THREAD_DESTROYED: 409,
        R.LAST_ADMINISTRATOR: 409,
        R.MESSAGE_LIMIT: 409,
        # The request names something that does not fit the thread: fix the request.
        R.REPLY_TARGET_NOT_FOUND: 422,
        R.RECIPIENT_NOT_MEMBER: 422,
        R.INVALID_COMMAND: 422,
    }
)

REASONS: tuple[str, ...] = (*(r.value for r in RejectionReason), *(r.value for r in HttpReason))


def error_body(reason: str, messages: Sequence[str], **extra: object) -> dict[str, object]:
    return {"error_messages": list(messages), "reason": str(reason), **extra}


class ApiError(Exception):
    """An answer other than 200, raised anywhere below a handler."""

    def __init__(
        self,
        status: int,
        reason: str,
        messages: Sequence[str],
        *,
        headers: Mapping[str, str] | None = None,
        **extra: object,
    ) -> None:
        super().__init__(f"{status} {reason}: {'; '.join(messages)}")
        self.status = status
        self.reason = str(reason)
        self.messages = tuple(messages)
        self.headers = dict(headers or {})
        self.extra = extra

    def response(self) -> JsonResponse:
        return JsonResponse(
            error_body(self.reason, self.messages, **self.extra),
            status_code=self.status,
            headers=self.headers,
        )


def invalid(problems: Sequence[Problem], reason: str) -> ApiError:
    """422 with one message per bad field."""
    return ApiError(422, reason, [str(problem) for problem in problems])


def rejection(reason: RejectionReason, message: str) -> ApiError:
    return ApiError(REJECTION_STATUS[reason], reason, [message])


def thread_not_visible(thread_id: str, account_id: str) -> ApiError:
    # One message for "missing" and "not yours": the answer must not reveal which.
    return ApiError(
        404,
        RejectionReason.THREAD_NOT_FOUND,
        [f"thread {thread_id} does not exist or is not visible to account {account_id}"],
    )


async def api_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 404:
        return ApiError(404, HttpReason.NOT_FOUND, [f"no route for {where}"]).response()
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return ApiError(
            405,
            HttpReason.METHOD_NOT_ALLOWED,
            [f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})"],
            headers=exc.headers,
        ).response()
    return ApiError(
        exc.status_code, HttpReason.INVALID_REQUEST, [exc.detail], headers=exc.headers
    ).response()


async def unhandled_error_handler(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return ApiError(
        500, HttpReason.INTERNAL_ERROR, ["internal error; it has been logged"]
    ).response()
