"""Test data builders for the pure domain: valid ULIDs, commands and a fixed clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from pipeline.domain import (
    Accepted,
    Command,
    CommandBody,
    CreateThread,
    Decision,
    DecisionContext,
    ThreadState,
    decide,
    evolve,
)
from pipeline.domain.ids import ulid_from_parts

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
_counter = itertools.count(1)


def ulid(n: int | None = None) -> str:
    """A valid, deterministic ULID; distinct for distinct `n` (a fresh one when omitted)."""
    return ulid_from_parts(1_700_000_000_000, next(_counter) if n is None else n)


ALICE = ulid(10_001)
BOB = ulid(10_002)
CAROL = ulid(10_003)
DAVE = ulid(10_004)
THREAD = ulid(20_001)


def command(
    body: CommandBody, sender: str = ALICE, thread: str = THREAD, cid: str | None = None
) -> Command:
    return Command(
        command_id=cid or ulid(),
        thread_id=thread,
        sender_id=sender,
        requested_at=T0,
        body=body,
    )


def create(
    admins: tuple[str, ...] = (),
    members: tuple[str, ...] = (BOB,),
    sender: str = ALICE,
    title: str = "Lunch",
    **kwargs: str | None,
) -> Command:
    return command(CreateThread(title, admins, members, **kwargs), sender=sender)  # type: ignore[arg-type]


class Aggregate:
    """Drives decide/evolve like the worker does, with a ticking clock and offsets."""

    def __init__(self) -> None:
        self.state: ThreadState = None
        self.events: list = []  # type: ignore[type-arg]
        self.offset = 0

    def context(self) -> DecisionContext:
        self.offset += 1
        return DecisionContext(now=T0 + timedelta(seconds=self.offset), command_offset=self.offset)

    def handle(self, cmd: Command) -> Decision:
        decision = decide(self.state, cmd, self.context())
        if isinstance(decision, Accepted):
            for event in decision.events:
                self.state = evolve(self.state, event)
                self.events.append(event)
        return decision
