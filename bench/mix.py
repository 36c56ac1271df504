"""The command mix of the load generator: create the threads first, then mostly AddMessages,
with some joins, leaves and removes.

Commands of a thread share its partition and keep their order, so the generator can model
each thread as its commands will have made it (members, live messages) at the moment it
produces the next one, without waiting for replies: many commands of a thread can be in
flight and nearly all of them are still valid (accepted).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pipeline.client.commands import CommandFactory, new_id
from pipeline.domain import AddMessages, Command, limits

# Shares of the commands after the creations.
POST, JOIN, LEAVE = 0.85, 0.05, 0.05  # the rest removes a message
# Stay well under the live-message limit of a thread whatever the run length.
LIVE_SOFT_MAX = limits.LIVE_MESSAGES_MAX - 500


@dataclass
class ThreadModel:
    thread_id: str
    admin: str
    members: tuple[str, ...]
    guests: list[str] = field(default_factory=list)
    live: list[tuple[str, str]] = field(default_factory=list)  # (message_id, sender)


class Mix:
    def __init__(self, seed: int, accounts: int = 200) -> None:
        self.rng = random.Random(seed)
        self.accounts = [new_id() for _ in range(accounts)]
        self.factory = CommandFactory()

    def create(self) -> tuple[Command, ThreadModel]:
        admin, *members = self.rng.sample(self.accounts, 4)
        command = self.factory.create_thread(
            admin, f"thread {self.rng.randrange(10**6)}", member_ids=members
        )
        return command, ThreadModel(command.thread_id, admin, tuple(members))

    def next(self, thread: ThreadModel) -> tuple[Command, str]:
        """The thread's next command and its kind (`post`, `join`, `leave`, `remove`)."""
        roll = self.rng.random()
        if len(thread.live) >= LIVE_SOFT_MAX:
            roll = 1.0
        if roll < POST or (roll >= POST + JOIN + LEAVE and not thread.live):
            return self.post(thread), "post"
        if roll < POST + JOIN:
            guest = new_id()
            thread.guests.append(guest)
            return self.factory.join_members(thread.thread_id, thread.admin, [guest]), "join"
        if roll < POST + JOIN + LEAVE:
            if not thread.guests:
                return self.post(thread), "post"
            guest = thread.guests.pop(self.rng.randrange(len(thread.guests)))
            return self.factory.leave_members(thread.thread_id, guest, [guest]), "leave"
        message_id, sender = thread.live.pop(self.rng.randrange(len(thread.live)))
        return self.factory.remove_messages(thread.thread_id, sender, [message_id]), "remove"

    def post(self, thread: ThreadModel) -> Command:
        rng = self.rng
        sender = rng.choice((thread.admin, *thread.members))
        reply_to = rng.choice(thread.live)[0] if thread.live and rng.random() < 0.2 else None
        to = [rng.choice(thread.members)] if rng.random() < 0.2 else []
        command = self.factory.post(
            thread.thread_id,
            sender,
            "hello " * rng.randint(1, 20),
            reply_to=reply_to,
            to_account_ids=to,
        )
        assert isinstance(command.body, AddMessages)
        thread.live.append((command.body.messages[0].message_id, sender))
        return command
