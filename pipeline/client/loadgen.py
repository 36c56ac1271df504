"""A realistic command mix for load and soak runs: create, post, reply, join, leave, remove.

The generator models each thread as the commands it has produced so far will have made it
(members, guests, live messages). A thread's commands keep their order in its partition, so
the model holds without waiting for replies, and many commands of a thread may be in flight
(the bench's open-loop runs send on a fixed schedule). Every command is valid for its thread
except the share meant to be rejected for the reasons real clients hit (`Shares`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.client import CommandClient, CommandFactory, ReplyTimeoutError
from pipeline.client.commands import new_id
from pipeline.domain import AddMessages, Command, limits
from pipeline.kafka.replies import CommandRejected

# Stay well under the live-message limit of a thread whatever the run length.
LIVE_SOFT_MAX = limits.LIVE_MESSAGES_MAX - 500
POST, JOIN, LEAVE, REMOVE, STRANGER = "post", "join", "leave", "remove", "stranger"


@dataclass(frozen=True, slots=True)
class Shares:
    """How the commands after the creations divide: the share of each kind (posts take the
    rest), and how often a post replies to a message or names recipients."""

    join: float = 0.15
    leave: float = 0.10
    remove: float = 0.15
    # Posts by an account that is no member: rejected (SENDER_NOT_MEMBER).
    stranger: float = 0.05
    # Removals asked by a participant other than the message's sender: the administrator's
    # are accepted (moderation), a member's rejected (NOT_MESSAGE_SENDER).
    other_remover: float = 0.2
    reply: float = 0.3
    to: float = 0.3

    def __post_init__(self) -> None:
        if self.join + self.leave + self.remove + self.stranger > 1:
            raise ValueError(f"the shares of {self} leave no room for posts")


@dataclass
class ThreadModel:
    thread_id: str
    admin: str
    members: list[str]
    # Joined by the mix after the creation; only they leave, so `members` stays valid.
    guests: list[str] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)  # live (message_id, sender)


@dataclass
class Summary:
    sent: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    timeouts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "timeouts": self.timeouts,
            "p50_ms": round(self.percentile(0.50), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "commands_per_s": round(self.sent / self.elapsed_s, 1) if self.elapsed_s else 0.0,
        }


class Mix:
    def __init__(
        self, rng: random.Random, accounts: int = 50, shares: Shares | None = None
    ) -> None:
        self.rng = rng
        self.accounts = [new_id() for _ in range(accounts)]
        self.factory = CommandFactory()
        self.shares = shares or Shares()

    def create(self) -> tuple[Command, ThreadModel]:
        admin, *members = self.rng.sample(self.accounts, 4)
        command = self.factory.create_thread(
            admin, f"thread {self.rng.randrange(10**6)}", member_ids=members
        )
        return command, ThreadModel(command.thread_id, admin, members)

    def next(self, thread: ThreadModel) -> tuple[Command, str]:
        """The thread's next command and its kind (`post`, `join`, `leave`, `remove`,
        `stranger`); the model already counts its effect."""
        kind = self._kind(thread)
        f = self.factory
        if kind == JOIN:
            guest = new_id()
            thread.guests.append(guest)
            return f.join_members(thread.thread_id, thread.admin, [guest]), kind
        if kind == LEAVE:
            guest = thread.guests.pop(self.rng.randrange(len(thread.guests)))
            return f.leave_members(thread.thread_id, guest, [guest]), kind
        if kind == REMOVE:
            return self._remove(thread), kind
        if kind == STRANGER:
            return f.post(thread.thread_id, new_id(), "let me in"), kind
        return self._post(thread), kind

    def _kind(self, thread: ThreadModel) -> str:
        if len(thread.messages) >= LIVE_SOFT_MAX:
            return REMOVE
        shares, roll = self.shares, self.rng.random()
        for kind, share in (
            (JOIN, shares.join),
            (LEAVE, shares.leave),
            (REMOVE, shares.remove),
            (STRANGER, shares.stranger),
        ):
            if roll < share:
                if (kind == LEAVE and not thread.guests) or (
                    kind == REMOVE and not thread.messages
                ):
                    return POST
                return kind
            roll -= share
        return POST

    def _post(self, thread: ThreadModel) -> Command:
        rng, shares = self.rng, self.shares
        sender = rng.choice((thread.admin, *thread.members))
        reply_to = (
            rng.choice(thread.messages)[0]
            if thread.messages and rng.random() < shares.reply
            else None
        )
        to = [rng.choice(thread.members)] if thread.members and rng.random() < shares.to else []
        command = self.factory.post(
            thread.thread_id,
            sender,
            "hello " * rng.randint(1, 20),
            reply_to=reply_to,
            to_account_ids=to,
        )
        assert isinstance(command.body, AddMessages)
        thread.messages.append((command.body.messages[0].message_id, sender))
        return command

    def _remove(self, thread: ThreadModel) -> Command:
        rng = self.rng
        index = rng.randrange(len(thread.messages))
        message_id, sender = thread.messages[index]
        actor = sender
        if rng.random() < self.shares.other_remover:
            actor = rng.choice((thread.admin, *thread.members))
        if actor in (sender, thread.admin):
            del thread.messages[index]
        return self.factory.remove_messages(thread.thread_id, actor, [message_id])


async def run_load(
    client: CommandClient,
    *,
    threads: int,
    commands: int,
    rate: float | None = None,
    concurrency: int = 256,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
    timeout: float = 30.0,
) -> Summary:
    mix = Mix(random.Random(seed))
    summary = Summary()
    semaphore = asyncio.Semaphore(concurrency)
    # A thread's commands must reach its partition in the order the mix made them (a send
    # may wait for the semaphore): one at a time per thread.
    locks: dict[str, asyncio.Lock] = {}
    models: list[ThreadModel] = []

    async def send(command: Command) -> None:
        async with semaphore:
            started = time.perf_counter()
            summary.sent += 1
            try:
                reply = await client.send(command, timeout=timeout)
            except ReplyTimeoutError:
                summary.timeouts += 1
                return
            finally:
                if progress is not None:
                    progress(1)
            summary.latencies_ms.append((time.perf_counter() - started) * 1000)
            if isinstance(reply, CommandRejected):
                summary.rejected[reply.reason.value] += 1
            else:
                summary.accepted += 1

    async def one(thread: ThreadModel) -> None:
        async with locks[thread.thread_id]:
            command, _kind = mix.next(thread)
            await send(command)

    started = time.perf_counter()
    creates = []
    for _ in range(min(threads, commands)):
        command, model = mix.create()
        models.append(model)
        locks[model.thread_id] = asyncio.Lock()
        creates.append(send(command))
    await asyncio.gather(*creates)
    tasks: list[asyncio.Task[None]] = []
    interval = 1.0 / rate if rate else 0.0
    next_at = time.perf_counter()
    for _ in range(commands - len(models)):
        if interval:
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)
        tasks.append(asyncio.create_task(one(mix.rng.choice(models))))
        if len(tasks) >= 4 * concurrency:
            await asyncio.gather(*tasks)
            tasks.clear()
    await asyncio.gather(*tasks)
    summary.elapsed_s = time.perf_counter() - started
    return summary
