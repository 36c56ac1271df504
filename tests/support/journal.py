"""Journal events without a worker: histories decided by the pure domain, produced to the
journal like the worker does (key = thread id, partition = murmur2(thread id) % P)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace

from confluent_kafka import Producer

from pipeline.client.commands import new_id
from pipeline.client.loadgen import Mix, ThreadModel
from pipeline.codec import encode_event
from pipeline.domain import (
    Command,
    Event,
    LeaveAdministratorIds,
    NewMessage,
)
from pipeline.kafka.config import producer_config
from pipeline.kafka.partitioner import partition_for
from pipeline.kafka.records import Record
from pipeline.kafka.replies import Reply
from pipeline.kafka.security import KafkaConnection
from pipeline.projector.records import JournalEvent
from pipeline.worker.handling import reply_for
from tests.support.builders import Aggregate

JOURNAL = "threadweaver.thread-events"


class SyntheticJournal:
    """Many threads driven by the load generator's mix through the pure decider.

    `events` is the journal order: the order the commands were decided in.
    """

    def __init__(self, seed: int = 5, *, threads: int = 0, commands: int = 0) -> None:
        """`threads` created, then `commands` run over them (both may come later)."""
        self.rng = random.Random(seed)
        self.mix = Mix(self.rng)
        self.aggregates: dict[str, Aggregate] = {}
        self.models: list[ThreadModel] = []
        self.events: list[Event] = []
        self.create_threads(threads)
        self.run(commands)

    def handle(self, command: Command) -> Reply:
        aggregate = self.aggregates.setdefault(command.thread_id, Aggregate())
        before = len(aggregate.events)
        decision = aggregate.handle(command)
        self.events.extend(aggregate.events[before:])
        return reply_for(command, decision)

    def create_threads(self, count: int) -> None:
        for _ in range(count):
            command, model = self.mix.create()
            self.handle(command)
            self.models.append(model)

    def run(self, commands: int) -> None:
        """`commands` more commands over the existing threads, with some administrator
        changes, replies to and removals of earlier messages, and NUL in a text."""
        f = self.mix.factory
        for _ in range(commands):
            model = self.rng.choice(self.models)
            roll = self.rng.random()
            if roll < 0.03:
                newcomer = self.rng.choice(self.mix.accounts)
                self.handle(f.join_administrators(model.thread_id, model.admin, [newcomer]))
                if newcomer != model.admin and self.rng.random() < 0.5:
                    leave = LeaveAdministratorIds((newcomer,))
                    self.handle(f.envelope(model.thread_id, model.admin, leave))
            elif roll < 0.04:
                messages = [NewMessage(new_id(), f"multi {i}\x00") for i in range(3)]
                self.handle(f.add_messages(model.thread_id, model.admin, messages))
            else:
                command, _kind = self.mix.next(model)
                self.handle(command)

    def destroy_some(self, share: float) -> None:
        f = self.mix.factory
        for model in self.models:
            if self.rng.random() < share:
                self.handle(f.destroy_thread(model.thread_id, model.admin))

    @property
    def thread_ids(self) -> set[str]:
        return {model.thread_id for model in self.models}


def items(events: Iterable[Event], partition: int = 0, first_offset: int = 0) -> list[JournalEvent]:
    """Events as decoded journal records (for the pure planner)."""
    return [
        JournalEvent(
            Record(JOURNAL, partition, first_offset + i, e.thread_id.encode(), encode_event(e)),
            e,
        )
        for i, e in enumerate(events)
    ]


def conflicting(event: Event) -> Event:
    """Another event at the same seq_nr: what a second writer of the thread would append."""
    return replace(event, event_id=new_id(), command_id=new_id())


class JournalProducer:
    """Produces events (or raw bytes) to the journal, keyed and partitioned like the worker."""

    def __init__(self, bootstrap: str, partitions: int, topic: str = JOURNAL) -> None:
        # The embedded stack's broker: plain TCP.
        connection = KafkaConnection.plaintext(bootstrap)
        self._producer = Producer(producer_config(connection, "tests-journal"))
        self._partitions = partitions
        self._topic = topic
        self._errors: list[str] = []

    def _on_delivery(self, error: object, _message: object) -> None:
        if error is not None:
            self._errors.append(str(error))

    def send(self, events: Iterable[Event]) -> int:
        count = 0
        for event in events:
            self.send_raw(event.thread_id, encode_event(event))
            count += 1
        return count

    def send_raw(self, thread_id: str, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(
                    self._topic,
                    value,
                    key=thread_id.encode(),
                    partition=partition_for(thread_id, self._partitions),
                    on_delivery=self._on_delivery,
                )
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def flush(self) -> None:
        assert self._producer.flush(30) == 0, "journal records not acknowledged"
        assert not self._errors, self._errors
