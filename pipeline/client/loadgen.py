"""A realistic command mix for load and soak runs: create, join, post, reply, remove, leave.

The generator keeps a model of each thread (members, live messages) from the replies it
gets, so most commands are valid and the rest are rejected for the reasons real clients hit.
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
from pipeline.domain import Command
from pipeline.kafka.replies import CommandAccepted, CommandRejected, Reply


@dataclass
class ThreadModel:
    thread_id: str
    admin: str
    members: list[str]
    messages: list[tuple[str, str]] = field(default_factory=list)  # (message_id, sender)


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
    def __init__(self, rng: random.Random, accounts: int = 50) -> None:
        self.rng = rng
        self.accounts = [new_id() for _ in range(accounts)]
        self.factory = CommandFactory()

    def create(self) -> tuple[Command, ThreadModel]:
        admin, *members = self.rng.sample(self.accounts, 4)
        command = self.factory.create_thread(
            admin, f"thread {self.rng.randrange(10**6)}", member_ids=members
        )
        return command, ThreadModel(command.thread_id, admin, members)

    def next(self, thread: ThreadModel) -> tuple[Command, Callable[[Reply], None]]:
        rng, f = self.rng, self.factory
        roll = rng.random()
        if roll < 0.55 or not thread.messages:
            sender = rng.choice([thread.admin, *thread.members])
            reply_to = (
                rng.choice(thread.messages)[0] if thread.messages and rng.random() < 0.3 else None
            )
            to = rng.sample(thread.members, 1) if thread.members and rng.random() < 0.3 else []
            command = f.post(
                thread.thread_id,
                sender,
                "hello " * rng.randint(1, 20),
                reply_to=reply_to,
                to_account_ids=to,
            )

            def posted(reply: Reply) -> None:
                if isinstance(reply, CommandAccepted):
                    thread.messages.extend((m, sender) for m in reply.message_ids)
                    if len(thread.messages) > 200:
                        del thread.messages[:100]

            return command, posted
        if roll < 0.70:
            message_id, sender = rng.choice(thread.messages)
            # Sometimes a member tries to remove someone else's message (NOT_MESSAGE_SENDER).
            actor = sender if rng.random() < 0.8 else rng.choice([thread.admin, *thread.members])
            command = f.remove_messages(thread.thread_id, actor, [message_id])

            def removed(reply: Reply) -> None:
                if isinstance(reply, CommandAccepted):
                    thread.messages[:] = [
                        m for m in thread.messages if m[0] not in reply.message_ids
                    ]

            return command, removed
        if roll < 0.85:
            newcomer = rng.choice(self.accounts)
            command = f.join_members(thread.thread_id, thread.admin, [newcomer])

            def joined(reply: Reply) -> None:
                if isinstance(reply, CommandAccepted) and newcomer not in thread.members:
                    thread.members.append(newcomer)

            return command, joined
        if roll < 0.95 and thread.members:
            leaver = rng.choice(thread.members)
            command = f.leave_members(thread.thread_id, leaver, [leaver])

            def left(reply: Reply) -> None:
                if isinstance(reply, CommandAccepted) and leaver in thread.members:
                    thread.members.remove(leaver)

            return command, left
        # A stranger posting: rejected with SENDER_NOT_MEMBER.
        stranger = new_id()
        return f.post(thread.thread_id, stranger, "let me in"), lambda _reply: None


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
    # One command per thread in flight at a time keeps the model consistent with replies.
    locks: dict[str, asyncio.Lock] = {}
    models: list[ThreadModel] = []

    async def send(command: Command, on_reply: Callable[[Reply], None] | None = None) -> None:
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
            if on_reply is not None:
                on_reply(reply)

    async def one(thread: ThreadModel) -> None:
        async with locks[thread.thread_id]:
            command, on_reply = mix.next(thread)
            await send(command, on_reply)

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
