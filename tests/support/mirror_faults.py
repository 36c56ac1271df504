"""Fault injection into the mirror's DynamoDB client, for tests only (THREADWEAVER_MIRROR_FAULTS,
read by tests/support/faulty_mirror.py; the product has no such setting).

moto has no throttling, so tests make the client itself answer some calls with the errors
real DynamoDB gives, without sending them. Comma-separated `name=value` entries:

    throttle=N     the first N calls fail with ProvisionedThroughputExceededException
    unprocessed=N  the first N BatchWriteItem calls write nothing and return every item
                   as unprocessed
    unprocessed_keys=N  the same for the first N BatchGetItem calls and their keys
    reject=TEXT    every PutItem/BatchWriteItem whose request contains TEXT fails with
                   ValidationException (a poison item)
    delay=S        every call waits S seconds first

"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

_PARAMS = "threadweaver_fault_params"
_WRITES = frozenset({"PutItem", "BatchWriteItem"})


@dataclass(frozen=True, slots=True)
class FaultSpec:
    throttle: int = 0
    unprocessed: int = 0
    unprocessed_keys: int = 0
    reject: str | None = None
    delay_s: float = 0.0


def parse_faults(text: str) -> FaultSpec:
    fields: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"fault {part!r} is not name=value")
        fields[name.strip()] = value.strip()
    unknown = set(fields) - {"throttle", "unprocessed", "unprocessed_keys", "reject", "delay"}
    if unknown:
        raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
    return FaultSpec(
        throttle=int(fields.get("throttle", "0")),
        unprocessed=int(fields.get("unprocessed", "0")),
        unprocessed_keys=int(fields.get("unprocessed_keys", "0")),
        reject=fields.get("reject") or None,
        delay_s=float(fields.get("delay", "0")),
    )


class FaultInjector:
    def __init__(self, spec: FaultSpec) -> None:
        self._spec = spec
        self._lock = threading.Lock()
        self._throttles_left = spec.throttle
        self._unprocessed_left = spec.unprocessed
        self._unprocessed_keys_left = spec.unprocessed_keys

    def install(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-parameter-build.dynamodb", self._remember_params)
        events.register("before-call.dynamodb", self._before_call)

    @staticmethod
    def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # before-call only sees the serialized request; an "unprocessed" answer needs the
        # items as the caller passed them.
        context[_PARAMS] = params

    def _take(self, what: str) -> bool:
        with self._lock:
            left: int = getattr(self, what)
            if left <= 0:
                return False
            setattr(self, what, left - 1)
            return True

    def _before_call(
        self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> tuple[Any, dict[str, Any]] | None:
        operation = str(model.name)
        if self._spec.delay_s:
            time.sleep(self._spec.delay_s)
        if self._take("_throttles_left"):
            return _error(
                "ProvisionedThroughputExceededException", "injected throttle (test fault)"
            )
        api_params = context.get(_PARAMS, {})
        if operation == "BatchWriteItem" and self._take("_unprocessed_left"):
            return _ok({"UnprocessedItems": api_params.get("RequestItems", {})})
        if operation == "BatchGetItem" and self._take("_unprocessed_keys_left"):
            return _ok({"Responses": {}, "UnprocessedKeys": api_params.get("RequestItems", {})})
        reject = self._spec.reject
        body = params.get("body") or b""
        body = body.encode() if isinstance(body, str) else bytes(body)
        if reject and operation in _WRITES and reject.encode() in body:
            return _error("ValidationException", f"injected rejection of {reject!r} (test fault)")
        return None


def _response(status: int) -> Any:
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415 - botocore is a lazy import

    return AWSResponse(None, status, {}, None)


def _ok(parsed: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    return _response(200), {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}


def _error(code: str, message: str) -> tuple[Any, dict[str, Any]]:
    return _response(400), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
