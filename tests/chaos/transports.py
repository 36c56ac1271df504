"""The two ways a command reaches the system, each retrying until it has a final answer.

The effectively-once contract (docs/adr/0002, 0007): a client that got no answer sends the
SAME command id again: the Kafka client the same command, the HTTP client the same request
with the same `Idempotency-Key`. A timeout, a connection refused by a killed API, a 503 or a
504 are all "no answer yet"; only an accepted, a rejection or an authentication refusal is
final.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, assert_never

import httpx
import jwt
from confluent_kafka import KafkaException

from api.commands import IDEMPOTENCY_KEY
from pipeline.client import CommandClient, ReplyTimeoutError
from pipeline.domain import Command, RejectionReason, commands
from pipeline.kafka.producer import DeliveryError
from tests.chaos.outcomes import Outcome, Probe
from tests.chaos.scenario import Intrusion, Planned
from tests.support.auth import TEST_JWT_ALGORITHM, token_for

DOMAIN_REASONS = frozenset(reason.value for reason in RejectionReason)
AUTH_REASONS = frozenset(intrusion.value for intrusion in Intrusion)
# Answers that are not final: the command may or may not have been produced.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_THE_TEST_KEY = "an-attacker-key-that-the-api-never-accepts-0123456789"


def _backoff(attempt: int, rng: random.Random) -> float:
    # Full jitter, capped: a client must not hammer an API that is restarting.
    return rng.uniform(0.0, min(1.0, 0.05 * 2**attempt))


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    attempts: int


class KafkaTransport:
    def __init__(self, client: CommandClient, reply_timeout_s: float) -> None:
        self._client = client
        self._timeout = reply_timeout_s
        self._rng = random.Random()

    async def send(self, command: Command) -> Answer:
        attempts = 0
        while True:
            attempts += 1
            try:
                reply = await self._client.send(command, self._timeout)
            except ReplyTimeoutError:
                continue  # the same command again: safe, the worker remembers it
            except (DeliveryError, KafkaException, BufferError):
                await asyncio.sleep(_backoff(attempts, self._rng))
                continue
            return Answer(Outcome.of_reply(reply), attempts)


def http_request(command: Command) -> tuple[str, dict[str, Any]]:
    """The endpoint and JSON body of `command` (api/routes.py)."""
    thread = f"/v1/threads/{command.thread_id}"
    body: dict[str, Any] = {"account_id": command.sender_id}
    match command.body:
        case commands.CreateThread() as create:
            path = "/v1/threads/create"
            body |= {
                "title": create.title,
                "remarks": create.remarks,
                "parent_thread_id": create.parent_thread_id,
                "administrator_ids": list(create.administrator_ids),
                "member_ids": list(create.member_ids),
            }
        case commands.DestroyThread():
            path = f"{thread}/destroy"
        case commands.JoinAdministratorIds(account_ids=ids):
            path, body["account_ids"] = f"{thread}/administrator-ids/join", list(ids)
        case commands.LeaveAdministratorIds(account_ids=ids):
            path, body["account_ids"] = f"{thread}/administrator-ids/leave", list(ids)
        case commands.JoinMemberIds(account_ids=ids):
            path, body["account_ids"] = f"{thread}/member-ids/join", list(ids)
        case commands.LeaveMemberIds(account_ids=ids):
            path, body["account_ids"] = f"{thread}/member-ids/leave", list(ids)
        case commands.AddMessages(messages=messages):
            path = f"{thread}/messages/add"
            body["messages"] = [
                {
                    "text": m.text,
                    "reply_message_id": m.reply_message_id,
                    "to_account_ids": list(m.to_account_ids),
                }
                for m in messages
            ]
        case commands.RemoveMessages(message_ids=ids):
            path, body["message_ids"] = f"{thread}/messages/remove", list(ids)
        case _:
            assert_never(command.body)
    return path, body


class HttpTransport:
    """`clients` share the requests: httpcore scans its whole pool (connections and queued
    requests) for every request, so one big pool costs the load generator most of a core."""

    def __init__(self, clients: Sequence[httpx.AsyncClient]) -> None:
        self._clients = itertools.cycle(clients)
        self._rng = random.Random()
        self._tokens: dict[str, str] = {}

    def _token(self, account: str) -> str:
        if account not in self._tokens:
            self._tokens[account] = token_for(account)
        return self._tokens[account]

    def _authorization(self, planned: Planned) -> dict[str, str]:
        sender = planned.command.sender_id
        match planned.intrusion:
            case None:
                return {"Authorization": f"Bearer {self._token(sender)}"}
            case Intrusion.NO_TOKEN:
                return {}
            case Intrusion.BAD_SIGNATURE:
                claims = {"sub": sender, "exp": int(time.time()) + 600}
                forged = jwt.encode(claims, NOT_THE_TEST_KEY, algorithm=TEST_JWT_ALGORITHM)
                return {"Authorization": f"Bearer {forged}"}
            case Intrusion.FORGED_ACCOUNT:
                assert planned.token_account is not None
                return {"Authorization": f"Bearer {self._token(planned.token_account)}"}
            case _:
                assert_never(planned.intrusion)

    async def send(self, planned: Planned) -> Answer:
        command = planned.command
        path, body = http_request(command)
        headers = {IDEMPOTENCY_KEY: command.command_id, **self._authorization(planned)}
        attempts = 0
        while True:
            attempts += 1
            try:
                response = await next(self._clients).post(path, json=body, headers=headers)
            except httpx.TransportError:
                # Refused (API down), reset (API killed mid-request), pool or read timeout.
                await asyncio.sleep(_backoff(attempts, self._rng))
                continue
            if response.status_code in RETRY_STATUSES:
                await asyncio.sleep(_backoff(attempts, self._rng))
                continue
            return Answer(_outcome_of(response), attempts)

    async def probe(self, thread_id: str, reader: str, version: int) -> Probe:
        """Read your writes: the thread at `min_version`, as one of its participants."""
        try:
            response = await next(self._clients).get(
                f"/v1/threads/{thread_id}",
                params={"account_id": reader, "min_version": version},
                headers={"Authorization": f"Bearer {self._token(reader)}"},
            )
        except httpx.TransportError as exc:
            return Probe(thread_id, version, "unavailable", type(exc).__name__)
        payload = _json(response)
        if response.status_code == 200:
            seen = payload.get("thread", {}).get("version")
            if isinstance(seen, int) and seen >= version:
                return Probe(thread_id, version, "fresh")
            return Probe(thread_id, version, "violation", f"200 with version {seen}")
        if response.status_code == 409 and payload.get("reason") == "STALE_VIEW":
            seen = payload.get("version")
            if seen is None or (isinstance(seen, int) and seen < version):
                return Probe(thread_id, version, "stale")
            return Probe(thread_id, version, "violation", f"STALE_VIEW at version {seen}")
        if response.status_code == 503:
            return Probe(thread_id, version, "unavailable", response.text[:200])
        return Probe(
            thread_id, version, "violation", f"{response.status_code} {response.text[:200]}"
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _outcome_of(response: httpx.Response) -> Outcome:
    payload = _json(response)
    if response.status_code == 200:
        ids = payload.get("message_ids")
        return Outcome(
            "accepted",
            version=payload.get("version"),
            thread_id=payload.get("thread_id"),
            message_ids=tuple(ids) if isinstance(ids, list) else None,
        )
    reason = str(payload.get("reason"))
    if reason in DOMAIN_REASONS:
        return Outcome("rejected", reason=reason, thread_id=payload.get("thread_id"))
    if reason in AUTH_REASONS:
        return Outcome("refused", reason=reason)
    # Anything else is no answer the contract allows for these requests.
    return Outcome("refused", reason=f"HTTP {response.status_code} {response.text[:300]}")
