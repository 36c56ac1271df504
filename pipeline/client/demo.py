"""A small demo conversation through the public HTTP API, for `make run`.

Standard library only (urllib), so it runs wherever the CLI runs. Each command carries an
Idempotency-Key, so a timed-out request (the worker may still be joining its group) is
retried safely. Each request carries its account's bearer token (`token_for`), unless the
API runs without authentication.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.client.commands import new_id

ALICE = "01KAB00000000000000000A1CE"
BOB = "01KAB00000000000000000B0B0"
CAROL = "01KAB0000000000000000CAR01"

# The token of an account; None when the API runs without authentication.
TokenFor = Callable[[str], str] | None


class DemoError(Exception):
    pass


@dataclass(frozen=True)
class Demo:
    thread_id: str
    version: int
    lines: tuple[str, ...]


def _request(
    url: str, body: dict[str, Any] | None = None, key: str | None = None, token: str | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Idempotency-Key", key)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_ready(api_url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _ = _request(f"{api_url}/readyz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise DemoError(f"the API at {api_url} was not ready within {timeout:.0f}s")


def _command(
    api_url: str, path: str, body: dict[str, Any], token_for: TokenFor, attempts: int = 6
) -> dict[str, Any]:
    key = new_id()
    token = token_for(body["account_id"]) if token_for is not None else None
    for _ in range(attempts):
        status, payload = _request(f"{api_url}{path}", body, key, token)
        if status == 200:
            return dict(payload)
        if status not in (503, 504):
            raise DemoError(f"POST {path} -> {status}: {payload}")
        time.sleep(1.0)
    raise DemoError(f"POST {path}: no answer after {attempts} attempts (same Idempotency-Key)")


def run_demo(api_url: str, token_for: TokenFor = None) -> Demo:
    wait_ready(api_url)
    created = _command(
        api_url,
        "/v1/threads/create",
        {
            "account_id": ALICE,
            "title": "Lunch on Friday",
            "remarks": "made by `make run`",
            "administrator_ids": [],
            "member_ids": [BOB, CAROL],
        },
        token_for,
    )
    thread = created["thread_id"]
    first = _command(
        api_url,
        f"/v1/threads/{thread}/messages/add",
        {"account_id": ALICE, "messages": [{"text": "Noodles at noon?"}]},
        token_for,
    )
    _command(
        api_url,
        f"/v1/threads/{thread}/messages/add",
        {
            "account_id": BOB,
            "messages": [
                {
                    "text": "Yes!",
                    "reply_message_id": first["message_ids"][0],
                    "to_account_ids": [ALICE],
                }
            ],
        },
        token_for,
    )
    last = _command(
        api_url,
        f"/v1/threads/{thread}/messages/add",
        {"account_id": CAROL, "messages": [{"text": "Count me in."}]},
        token_for,
    )
    version = int(last["version"])
    messages = f"{api_url}/v1/threads/{thread}/messages?min_version={version}"
    if token_for is None:
        # Without authentication the reader names themself.
        bob_token, query = None, f"{messages}&account_id={BOB}"
        curl = f"curl '{query}'"
    else:
        # The token names the reader: no account_id needed.
        bob_token, query = token_for(BOB), messages
        curl = f"curl -H 'Authorization: Bearer {bob_token}' '{query}'"
    status, page = _request(query, token=bob_token)
    if status != 200:
        raise DemoError(f"GET messages -> {status}: {page}")
    lines = [
        f"demo thread {thread} (version {version}): "
        f"{len(page['messages'])} messages visible to Bob",
        f"docs:          {api_url}/docs",
    ]
    if bob_token is not None:
        lines.append(f"Bob's token:   {bob_token}")
    lines += [
        f"sample query:  {curl}",
        f"as a CLI user: threadweaver thread post {thread} --as {CAROL} 'see you there'",
    ]
    return Demo(thread, version, tuple(lines))
