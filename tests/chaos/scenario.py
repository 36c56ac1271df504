"""The chaos run's commands, and what the pure domain says each one must get.

Each thread has an oracle: the state the pure decider reaches by deciding the thread's
commands in the order the client sent them. The client sends one command per thread at a
time and waits for its final answer (retries included) before the next, so the system must
decide a thread's commands in exactly that order: every acknowledged outcome is compared
with `decide(oracle, command)`, and the oracle's final state is what the read model must
show.

The mix is mostly valid traffic (posts, replies, removals, joins and leaves of members and
administrators) with the mistakes real clients make (strangers posting, removing someone
else's message, the last administrator leaving, commands to destroyed or missing threads,
invalid values), some destroys, and hostile input: undecodable records on the command
topic and HTTP requests with no, forged or badly signed tokens.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Literal

from api.commands import derived_id
from pipeline.client import CommandFactory
from pipeline.client.commands import new_id
from pipeline.domain import (
    Accepted,
    Command,
    CommandBody,
    Decision,
    DecisionContext,
    NewMessage,
    Thread,
    ThreadState,
    commands,
    decide,
    replay,
    validate_command,
)

Transport = Literal["kafka", "http"]

ORACLE_T0 = datetime(2026, 11, 22, tzinfo=UTC)


class Intrusion(Enum):
    """HTTP requests that must not act as anyone (docs/adr/0008-api-authentication.md)."""

    NO_TOKEN = "MISSING_TOKEN"  # no Authorization header: 401
    BAD_SIGNATURE = "INVALID_TOKEN"  # a token signed with another key: 401
    FORGED_ACCOUNT = "ACCOUNT_MISMATCH"  # a stranger's token naming an administrator: 403


@dataclass(frozen=True, slots=True)
class Planned:
    """One command as the client sends it, with the answer the domain says it must get."""

    command: Command
    transport: Transport
    kind: str
    expected: Decision
    intrusion: Intrusion | None = None
    # The HTTP API's own checks (the domain's value rules) refuse it before Kafka.
    refused_at_edge: bool = False
    # FORGED_ACCOUNT: the account whose (valid) token is sent.
    token_account: str | None = None

    @property
    def reaches_kafka(self) -> bool:
        return self.intrusion is None and not self.refused_at_edge


@dataclass(frozen=True, slots=True)
class Garbage:
    """Bytes that are no command, produced to the command topic under a thread's key."""

    thread_id: str
    value: bytes


@dataclass
class ThreadCase:
    """One thread of the run: its oracle state and whether the system still agrees."""

    thread_id: str
    state: ThreadState = None
    commands: int = 0
    # The first answer that differed from the oracle; the thread gets no more commands.
    diverged: str | None = None

    @property
    def thread(self) -> Thread:
        assert self.state is not None, f"thread {self.thread_id} not created"
        return self.state


def message_id_for(command_id: str, index: int, transport: Transport) -> str:
    # The API derives the ids of new messages from the command id (docs/adr/0007); a Kafka
    # client chooses them.
    return derived_id(command_id, "message", index) if transport == "http" else new_id()


def _with_message_ids(body: CommandBody, command_id: str, transport: Transport) -> CommandBody:
    """Give the messages of an AddMessages their real ids (builders use placeholders), keeping
    replies to earlier messages of the same request pointed at them."""
    if not isinstance(body, commands.AddMessages):
        return body
    ids = {
        m.message_id: message_id_for(command_id, i, transport) for i, m in enumerate(body.messages)
    }
    return commands.AddMessages(
        tuple(
            dataclasses.replace(
                m,
                message_id=ids[m.message_id],
                reply_message_id=ids.get(m.reply_message_id or "", m.reply_message_id),
            )
            for m in body.messages
        )
    )


def _add(*messages: NewMessage) -> commands.AddMessages:
    return commands.AddMessages(tuple(messages))


def _message(index: int, text: str, **fields: object) -> NewMessage:
    return NewMessage(f"new-{index}", text, **fields)  # type: ignore[arg-type]


def _sorted(values: Iterable[str]) -> list[str]:
    return sorted(values)


@dataclass
class Scenario:
    rng: random.Random
    http_share: float
    accounts: list[str] = field(default_factory=lambda: [new_id() for _ in range(60)])
    factory: CommandFactory = field(default_factory=CommandFactory)
    _offset: int = 0

    def _context(self) -> DecisionContext:
        self._offset += 1
        return DecisionContext(ORACLE_T0 + timedelta(milliseconds=self._offset), self._offset)

    def _transport(self) -> Transport:
        return "http" if self.rng.random() < self.http_share else "kafka"

    def _plan(
        self,
        state: ThreadState,
        command: Command,
        transport: Transport,
        kind: str,
        *,
        intrusion: Intrusion | None = None,
        token_account: str | None = None,
    ) -> Planned:
        return Planned(
            command,
            transport,
            kind,
            decide(state, command, self._context()),
            intrusion=intrusion,
            refused_at_edge=transport == "http" and bool(validate_command(command)),
            token_account=token_account,
        )

    def _send(
        self,
        case: ThreadCase,
        sender: str,
        body: CommandBody,
        kind: str,
        transport: Transport | None = None,
    ) -> Planned:
        transport = transport or self._transport()
        command_id = new_id()
        body = _with_message_ids(body, command_id, transport)
        command = self.factory.envelope(case.thread_id, sender, body, command_id)
        return self._plan(case.state, command, transport, kind)

    def create(self) -> tuple[ThreadCase, Planned]:
        transport = self._transport()
        admin, *others = self.rng.sample(self.accounts, 5)
        command_id = new_id()
        # The API derives a new thread's id from the command id; a Kafka client picks it.
        thread_id = derived_id(command_id, "thread") if transport == "http" else new_id()
        command = self.factory.create_thread(
            admin,
            f"chaos {self.rng.randrange(10**6)}",
            administrator_ids=others[:1],
            member_ids=others[1:],
            remarks="under fire" if self.rng.random() < 0.5 else None,
            thread_id=thread_id,
            command_id=command_id,
        )
        case = ThreadCase(thread_id)
        return case, self._plan(None, command, transport, "create")

    def next(self, case: ThreadCase) -> Planned | Garbage:
        """The next command for `case` (created, possibly destroyed since)."""
        kinds = list(MIX)
        weights = [MIX[kind][0] for kind in kinds]
        while True:
            kind = self.rng.choices(kinds, weights)[0]
            planned = MIX[kind][1](self, case)
            if planned is not None:
                return planned

    @staticmethod
    def acknowledged(case: ThreadCase, planned: Planned) -> None:
        """The system answered as the oracle said: move the oracle on."""
        case.commands += 1
        if isinstance(planned.expected, Accepted) and planned.reaches_kafka:
            case.state = replay(planned.expected.events, case.state)

    # --- builders: None when the kind does not apply to the thread's state --------------------

    def post(self, case: ThreadCase) -> Planned | None:
        thread = case.thread
        sender = self.rng.choice(_sorted(thread.administrator_ids | thread.member_ids))
        live = _sorted(thread.messages)
        reply_to = self.rng.choice(live) if live and self.rng.random() < 0.3 else None
        members = _sorted(thread.member_ids)
        to = (self.rng.choice(members),) if members and self.rng.random() < 0.3 else ()
        text = "hello " * self.rng.randint(1, 12)
        body = _add(_message(0, text, reply_message_id=reply_to, to_account_ids=to))
        return self._send(case, sender, body, "post")

    def post_batch(self, case: ThreadCase) -> Planned | None:
        thread = case.thread
        sender = self.rng.choice(_sorted(thread.administrator_ids | thread.member_ids))
        count = self.rng.randint(2, 4)
        messages = [_message(i, f"part {i + 1} of {count}") for i in range(count)]
        # The second message answers the first one of the same request (allowed).
        messages[1] = _message(1, messages[1].text, reply_message_id=messages[0].message_id)
        return self._send(case, sender, _add(*messages), "post-batch")

    def remove_own(self, case: ThreadCase) -> Planned | None:
        messages = case.thread.messages  # live message id -> its sender
        if not messages:
            return None
        message_id = self.rng.choice(_sorted(messages))
        body = commands.RemoveMessages((message_id,))
        return self._send(case, messages[message_id], body, "remove-own")

    def remove_other(self, case: ThreadCase) -> Planned | None:
        thread = case.thread
        if not thread.messages:
            return None
        message_id = self.rng.choice(_sorted(thread.messages))
        others = _sorted(
            thread.member_ids - thread.administrator_ids - {thread.messages[message_id]}
        )
        if not others:
            return None
        body = commands.RemoveMessages((message_id,))
        return self._send(case, self.rng.choice(others), body, "remove-other")

    def moderate(self, case: ThreadCase) -> Planned | None:
        thread = case.thread
        if not thread.messages:
            return None
        ids = self.rng.sample(_sorted(thread.messages), min(len(thread.messages), 3))
        admin = self.rng.choice(_sorted(thread.administrator_ids))
        # An unknown id among them is skipped, not refused (removing is idempotent).
        return self._send(case, admin, commands.RemoveMessages((*ids, new_id())), "moderate")

    def join_member(self, case: ThreadCase) -> Planned | None:
        admin = self.rng.choice(_sorted(case.thread.administrator_ids))
        newcomers = tuple(self.rng.sample(self.accounts, self.rng.randint(1, 2)))
        return self._send(case, admin, commands.JoinMemberIds(newcomers), "join-member")

    def join_member_by_member(self, case: ThreadCase) -> Planned | None:
        thread = case.thread
        plain = _sorted(thread.member_ids - thread.administrator_ids)
        if not plain:
            return None
        body = commands.JoinMemberIds((self.rng.choice(self.accounts),))
        return self._send(case, self.rng.choice(plain), body, "join-member-by-member")

    def leave_self(self, case: ThreadCase) -> Planned | None:
        members = _sorted(case.thread.member_ids)
        if not members:
            return None
        member = self.rng.choice(members)
        return self._send(case, member, commands.LeaveMemberIds((member,)), "leave-self")

    def remove_member(self, case: ThreadCase) -> Planned | None:
        thread = case.thread
        members = _sorted(thread.member_ids)
        if not members:
            return None
        admin = self.rng.choice(_sorted(thread.administrator_ids))
        body = commands.LeaveMemberIds((self.rng.choice(members),))
        return self._send(case, admin, body, "remove-member")

    def join_admin(self, case: ThreadCase) -> Planned | None:
        admin = self.rng.choice(_sorted(case.thread.administrator_ids))
        body = commands.JoinAdministratorIds((self.rng.choice(self.accounts),))
        return self._send(case, admin, body, "join-admin")

    def leave_admin(self, case: ThreadCase) -> Planned | None:
        admins = _sorted(case.thread.administrator_ids)
        admin = self.rng.choice(admins)
        # Often the sender itself: the last administrator leaving is refused.
        leaver = admin if self.rng.random() < 0.5 else self.rng.choice(admins)
        return self._send(case, admin, commands.LeaveAdministratorIds((leaver,)), "leave-admin")

    def stranger_post(self, case: ThreadCase) -> Planned | None:
        return self._send(case, new_id(), _add(_message(0, "let me in")), "stranger-post")

    def reply_to_missing(self, case: ThreadCase) -> Planned | None:
        thread = case.thread
        sender = self.rng.choice(_sorted(thread.administrator_ids | thread.member_ids))
        body = _add(_message(0, "re: ?", reply_message_id=new_id()))
        return self._send(case, sender, body, "reply-to-missing")

    def to_stranger(self, case: ThreadCase) -> Planned | None:
        thread = case.thread
        sender = self.rng.choice(_sorted(thread.administrator_ids | thread.member_ids))
        body = _add(_message(0, "psst", to_account_ids=(new_id(),)))
        return self._send(case, sender, body, "to-stranger")

    def invalid(self, case: ThreadCase) -> Planned | None:
        thread = case.thread
        sender = self.rng.choice(_sorted(thread.administrator_ids | thread.member_ids))
        # Text must be 1..4096 characters: Kafka -> INVALID_COMMAND + DLQ, HTTP -> 422.
        return self._send(case, sender, _add(_message(0, "")), "invalid")

    def create_again(self, case: ThreadCase) -> Planned | None:
        # Only a Kafka client names the thread id of a create.
        command = self.factory.create_thread(
            case.thread.creator_id, "again", thread_id=case.thread_id, command_id=new_id()
        )
        return self._plan(case.state, command, "kafka", "create-again")

    def missing_thread(self, case: ThreadCase) -> Planned | None:
        body = _add(_message(0, "anyone there?"))
        return self._send(
            ThreadCase(new_id()), self.rng.choice(self.accounts), body, "missing-thread"
        )

    def destroy(self, case: ThreadCase) -> Planned | None:
        admin = self.rng.choice(_sorted(case.thread.administrator_ids))
        return self._send(case, admin, commands.DestroyThread(), "destroy")

    def intruder(self, case: ThreadCase) -> Planned | None:
        admin = self.rng.choice(_sorted(case.thread.administrator_ids))
        intrusion = self.rng.choice(list(Intrusion))
        command = self.factory.envelope(case.thread_id, admin, commands.DestroyThread())
        # Whatever the domain would decide: the API must refuse before producing anything.
        token_account = new_id() if intrusion is Intrusion.FORGED_ACCOUNT else None
        return self._plan(
            case.state,
            command,
            "http",
            "intruder",
            intrusion=intrusion,
            token_account=token_account,
        )

    def garbage(self, case: ThreadCase) -> Garbage:
        return Garbage(case.thread_id, b"\x00chaos: not a command " + new_id().encode())


Builder = Callable[[Scenario, ThreadCase], "Planned | Garbage | None"]

# kind -> (weight, builder). About 85% valid commands; the rest are refused for a reason.
MIX: dict[str, tuple[float, Builder]] = {
    "post": (0.42, Scenario.post),
    "post-batch": (0.03, Scenario.post_batch),
    "remove-own": (0.10, Scenario.remove_own),
    "remove-other": (0.02, Scenario.remove_other),
    "moderate": (0.02, Scenario.moderate),
    "join-member": (0.09, Scenario.join_member),
    "join-member-by-member": (0.02, Scenario.join_member_by_member),
    "leave-self": (0.06, Scenario.leave_self),
    "remove-member": (0.02, Scenario.remove_member),
    "join-admin": (0.03, Scenario.join_admin),
    "leave-admin": (0.03, Scenario.leave_admin),
    "stranger-post": (0.03, Scenario.stranger_post),
    "reply-to-missing": (0.01, Scenario.reply_to_missing),
    "to-stranger": (0.01, Scenario.to_stranger),
    "invalid": (0.01, Scenario.invalid),
    "create-again": (0.005, Scenario.create_again),
    "missing-thread": (0.005, Scenario.missing_thread),
    "destroy": (0.004, Scenario.destroy),
    "intruder": (0.006, Scenario.intruder),
    "garbage": (0.002, Scenario.garbage),
}
