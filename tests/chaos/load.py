"""Drives the scenario through both transports: `concurrency` lanes, each taking an idle
thread at random, sending its next command and waiting for the final answer (one command
per thread in flight, so the thread's order is the client's order)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from pipeline.domain import Accepted
from pipeline.kafka.partitioner import partition_for
from pipeline.kafka.producer import AsyncProducer, DeliveryError
from pipeline.settings import Settings
from tests.chaos.outcomes import Entry, Ledger, difference
from tests.chaos.scenario import Garbage, Planned, Scenario, ThreadCase
from tests.chaos.transports import Answer, HttpTransport, KafkaTransport

# Share of accepted commands followed by a read-your-writes query.
PROBE_SHARE = 0.03


@dataclass
class Load:
    scenario: Scenario
    kafka: KafkaTransport
    http: HttpTransport
    garbage_producer: AsyncProducer
    settings: Settings
    ledger: Ledger = field(default_factory=Ledger)
    cases: list[ThreadCase] = field(default_factory=list)
    _t0: float = field(default_factory=time.monotonic)
    _rng: random.Random = field(default_factory=random.Random)

    @property
    def acknowledged(self) -> int:
        return self.ledger.acknowledged

    async def _answer(self, planned: Planned) -> Answer:
        if planned.transport == "kafka":
            return await self.kafka.send(planned.command)
        return await self.http.send(planned)

    async def _settle(self, case: ThreadCase, planned: Planned) -> None:
        answer = await self._answer(planned)
        self.ledger.record(
            Entry(planned, answer.outcome, answer.attempts, time.monotonic() - self._t0)
        )
        problem = difference(planned, answer.outcome)
        if problem is not None:
            case.diverged = problem
            self.ledger.divergences.append(problem)
            return
        self.scenario.acknowledged(case, planned)
        if (
            isinstance(planned.expected, Accepted)
            and planned.reaches_kafka
            and case.state is not None
            and not case.state.destroyed
            and self._rng.random() < PROBE_SHARE
        ):
            thread = case.state
            reader = self._rng.choice(sorted(thread.administrator_ids | thread.member_ids))
            assert answer.outcome.version is not None
            self.ledger.probes.append(
                await self.http.probe(case.thread_id, reader, answer.outcome.version)
            )

    async def _garbage(self, garbage: Garbage) -> None:
        topic = self.settings.topics.commands
        partition = partition_for(garbage.thread_id, self.settings.partitions)
        while True:
            try:
                await self.garbage_producer.send(
                    topic, garbage.value, key=garbage.thread_id.encode(), partition=partition
                )
            except DeliveryError:
                continue
            self.ledger.garbage.append(garbage)
            return

    async def create_threads(self, count: int, concurrency: int) -> None:
        self._t0 = time.monotonic()
        gate = asyncio.Semaphore(concurrency)

        async def create() -> None:
            async with gate:
                case, planned = self.scenario.create()
                self.cases.append(case)
                await self._settle(case, planned)

        await asyncio.gather(*(create() for _ in range(count)))

    async def run(self, commands: int, concurrency: int) -> None:
        """`commands` more commands over the created threads."""
        idle = [case for case in self.cases if case.diverged is None and case.state is not None]
        available = asyncio.Condition()
        budget = commands

        def has_work() -> bool:
            return bool(idle) or budget <= 0

        async def lane() -> None:
            nonlocal budget
            while True:
                async with available:
                    await available.wait_for(has_work)
                    if budget <= 0:
                        return
                    budget -= 1
                    index = self.scenario.rng.randrange(len(idle))
                    idle[index], idle[-1] = idle[-1], idle[index]
                    case = idle.pop()
                next_command = self.scenario.next(case)
                if isinstance(next_command, Garbage):
                    await self._garbage(next_command)
                else:
                    await self._settle(case, next_command)
                async with available:
                    if case.diverged is None:
                        idle.append(case)
                    available.notify()

        await asyncio.gather(*(lane() for _ in range(concurrency)))
