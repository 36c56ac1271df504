"""The API's own cost per request, without PostgreSQL or Kafka: routing, the bearer token (a
remembered one, as a client's steady state), the request checks, the handler, JSON encoding.

    .venv/bin/python -m bench.api_request_path [--requests 20000] [--repeats 5]

The real app (`create_app`) answers raw ASGI calls in this process; its services are stubs
that answer at once (canned read-model rows, an accepted reply), so what is timed is the
API's Python alone. Prints the best of `--repeats` runs, in microseconds per request, per
kind of request. Written for ADR 0014 (request models and JSON encoding), whose before/after
figures come from this script at the commits it names.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from api.app import create_app
from api.services import Services
from api.tokens import mint
from pipeline.client.commands import new_id
from pipeline.domain import Command
from pipeline.kafka.replies import CommandAccepted
from pipeline.settings import ApiSettings, AuthSettings, Settings

KEY = "bench-only-hs256-key-of-48-bytes-not-a-secret!!!"
NOW = datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)
ACCOUNT = new_id()
THREAD = new_id()
PAGE = 50


def _thread_row() -> dict[str, Any]:
    return {
        "id": THREAD,
        "creator_id": ACCOUNT,
        "parent_thread_id": None,
        "title": "Lunch on Friday",
        "remarks": "somewhere near the office",
        "created_at": NOW,
        "updated_at": NOW,
        "version": 7,
        "visible": True,
    }


def _message_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "version": 7,
            "visible": True,
            "key": new_id(),
            "sender_id": ACCOUNT,
            "text": f"message {n}: " + "x" * 80,
            "reply_message_id": None,
            "to_account_ids": [ACCOUNT] if n % 5 == 0 else [],
            "created_at": NOW,
        }
        for n in range(count)
    ]


class _Connection:
    def __init__(self, rows: Callable[[str], list[dict[str, Any]]]) -> None:
        self._rows = rows

    async def fetch(self, sql: str, *args: object, timeout: float) -> list[dict[str, Any]]:
        return self._rows(sql)


class _Pool:
    """Answers every statement at once with canned rows (a page or one thread)."""

    def __init__(self) -> None:
        thread, messages = [_thread_row()], _message_rows(PAGE)
        self._connection = _Connection(lambda sql: messages if "messages m" in sql else thread)

    @asynccontextmanager
    async def acquire(self, timeout: float) -> AsyncIterator[_Connection]:
        yield self._connection


class _Client:
    """Accepts every command at once."""

    async def send(self, command: Command, timeout: float) -> CommandAccepted:
        ids = tuple(m.message_id for m in getattr(command.body, "messages", ()))
        return CommandAccepted(command.command_id, command.thread_id, 8, message_ids=ids)


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str
    query: str = ""
    body: Mapping[str, Any] | None = None
    status: int = 200


CALLS = (
    Call("GET a thread", "GET", f"/v1/threads/{THREAD}"),
    Call(
        f"GET {PAGE} messages",
        "GET",
        f"/v1/threads/{THREAD}/messages",
        f"limit={PAGE - 1}&min_version=1",
    ),
    Call(
        "POST create",
        "POST",
        "/v1/threads/create",
        body={"title": "Lunch", "administrator_ids": [], "member_ids": [new_id(), new_id()]},
    ),
    Call(
        "POST 10 messages",
        "POST",
        f"/v1/threads/{THREAD}/messages/add",
        body={
            "messages": [
                {"text": f"hello {n}", "to_account_ids": [ACCOUNT], "reply_message_id": None}
                for n in range(10)
            ]
        },
    ),
    Call(
        "POST invalid (422)",
        "POST",
        f"/v1/threads/{THREAD}/messages/add",
        body={"messages": [{"text": ""}, {"txt": "typo"}, 5], "colour": "red"},
        status=422,
    ),
)


async def _time(app: Any, call: Call, token: str, requests: int) -> float:
    """Seconds per request of `call`, answered `requests` times in a row."""
    body = b"" if call.body is None else json.dumps(call.body).encode()
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"host", b"api")]
    if call.body is not None:
        headers += [(b"content-type", b"application/json")]
        headers += [(b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": call.method,
        "scheme": "http",
        "path": call.path,
        "raw_path": call.path.encode(),
        "query_string": call.query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("api", 80),
    }
    request_message = {"type": "http.request", "body": body, "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return request_message

    async def send(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    elapsed = time.perf_counter() - started
    if set(statuses) != {call.status}:
        raise SystemExit(f"{call.name}: answered {sorted(set(statuses))}, not {call.status}")
    return elapsed / requests


async def measure(requests: int, repeats: int) -> dict[str, float]:
    auth = AuthSettings(key=SecretStr(KEY))
    settings = ApiSettings(auth=auth)
    app = create_app(Settings(api=settings))
    app.state.services = Services(
        settings=settings,
        pool=_Pool(),  # type: ignore[arg-type]
        client=_Client(),  # type: ignore[arg-type]
        kafka_probe=lambda: None,
    )
    token = mint(auth, ACCOUNT)
    results: dict[str, float] = {}
    for call in CALLS:
        await _time(app, call, token, max(1, requests // 10))  # warm up
        best = min([await _time(app, call, token, requests) for _ in range(repeats)])
        results[call.name] = best * 1e6
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(measure(args.requests, args.repeats))
    width = max(len(name) for name in results)
    for name, micros in results.items():
        print(f"{name:<{width}}  {micros:7.1f} us/request")


if __name__ == "__main__":
    main()
