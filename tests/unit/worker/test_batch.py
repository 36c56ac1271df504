"""The batch core of the worker (batch.py, states.py) against an in-memory broker and store.

The broker is a list per topic partition; the producer acknowledges what a test tells it to,
when it tells it to (or at once), and can fail; the journal that catch-up reads is the
broker's own journal log, folded by the real catch-up into an in-memory store. Expected
values are written out: thread ids with their partition (murmur2 of 4), reply texts, offsets.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import pytest

from pipeline.codec import decode_event, decode_reply, decode_snapshot, encode_command
from pipeline.domain import (
    CreateThread,
    DestroyThread,
    JoinMemberIds,
    RejectionReason,
    Thread,
)
from pipeline.kafka.producer import Delivered, DeliveryError, OutgoingRecord
from pipeline.kafka.records import Record
from pipeline.kafka.replies import REPLY_PARTITION_HEADER, CommandAccepted, CommandRejected
from pipeline.settings import Topics
from pipeline.worker import states as states_module
from pipeline.worker.batch import BatchExecutor
from pipeline.worker.snapshots import Rounds
from pipeline.worker.states import ThreadStates, journal_catch_up
from tests.support.builders import ALICE, BOB, CAROL, command
from tests.support.memory_snapshots import MemorySnapshots

pytestmark = pytest.mark.unit

PARTITIONS = 4
TOPICS = Topics()
# Thread ids and the command partition murmur2 gives each among 4 (Kafka's partitioner).
T0 = "01HF7YAT000000000000000X9H"  # partition 0
T0B = "01HF7YAT000000000000000X9K"  # partition 0
T1 = "01HF7YAT000000000000000X9S"  # partition 1
NAMES = {T0: "T0", T0B: "T0B", T1: "T1"}
STAMP_MS = 1_764_000_000_000
R = RejectionReason


# -- the in-memory broker, producer, journal and store ----------------------------------------


class Broker:
    """Every topic partition as a list of the records acknowledged to it."""

    def __init__(self) -> None:
        self.logs: dict[tuple[str, int | None], list[OutgoingRecord]] = defaultdict(list)

    def append(self, record: OutgoingRecord) -> Delivered:
        log = self.logs[(record.topic, record.partition)]
        log.append(record)
        # Replies without a partition go by key; the batch reads back only journal offsets.
        partition = -1 if record.partition is None else record.partition
        return Delivered(record.topic, partition, len(log) - 1)

    def journal(self, partition: int) -> list[str]:
        return [event_label(r.value) for r in self.logs[(TOPICS.events, partition)]]


@dataclass
class Send:
    records: list[OutgoingRecord]
    future: asyncio.Future[list[Delivered]]


class ScriptedProducer:
    """Records each send when it is made (librdkafka queues it at once) and acknowledges it at
    once, or, with `hold`, when the test calls `ack`; acknowledging appends to the broker, so
    the order of acks is the order of the log."""

    def __init__(self, broker: Broker, *, hold: bool = False) -> None:
        self.broker = broker
        self.hold = hold
        self.sends: list[Send] = []
        self.timeline: list[str] = []
        self.failing: set[str] = set()

    def send_all(self, records: Sequence[OutgoingRecord]) -> asyncio.Future[list[Delivered]]:
        loop = asyncio.get_running_loop()
        send = Send(list(records), loop.create_future())
        self.sends.append(send)
        self.timeline.append("send " + ", ".join(label(r) for r in send.records))
        if not self.hold:
            loop.call_soon(self._auto, send)
        return send.future

    def _auto(self, send: Send) -> None:
        if send.records[0].topic in self.failing:
            self.fail(send)
        else:
            self.ack(send)

    def ack(self, send: Send) -> None:
        delivered = [self.broker.append(r) for r in send.records]
        self.timeline.append(
            "ack "
            + ", ".join(
                f"{label(r)} @{d.offset}" if r.topic == TOPICS.events else label(r)
                for r, d in zip(send.records, delivered, strict=True)
            )
        )
        send.future.set_result(delivered)

    def fail(self, send: Send) -> None:
        self.timeline.append("fail " + ", ".join(label(r) for r in send.records))
        send.future.set_exception(DeliveryError("Broker: Not enough in-sync replicas"))

    def unacknowledged(self) -> list[Send]:
        return [s for s in self.sends if not s.future.done()]

    def replies(self) -> list[tuple[int | None, CommandAccepted | CommandRejected]]:
        return [
            (r.partition, decode_reply(r.value))
            for s in self.sends
            for r in s.records
            if r.topic == TOPICS.replies
        ]

    def dead_letters(self) -> list[OutgoingRecord]:
        return [r for s in self.sends for r in s.records if r.topic == TOPICS.commands_dlq]


class BrokerJournal:
    """catchup.Journal over the broker's journal log."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.reads: list[tuple[int, int, int]] = []

    def end_offset(self, partition: int) -> int:
        return len(self.broker.logs[(TOPICS.events, partition)])

    def read(self, partition: int, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        self.reads.append((partition, start, end))
        log = self.broker.logs[(TOPICS.events, partition)]
        return iter([(offset, log[offset].value) for offset in range(start, end)])


class MemoryStore:
    """store.ThreadStore in memory; `commits` keeps what each commit wrote."""

    def __init__(self) -> None:
        self.held: dict[tuple[int, str], Thread] = {}
        self.markers: dict[int, int] = {}
        self.commits: list[tuple[int, dict[str, int], int]] = []

    def get(self, partition: int, thread_id: str) -> Thread | None:
        return self.held.get((partition, thread_id))

    def journal_position(self, partition: int) -> int:
        return self.markers.get(partition, 0)

    def commit(self, partition: int, states: dict[str, Thread], position: int) -> None:
        for thread_id, state in states.items():
            self.held[(partition, thread_id)] = state
        self.markers[partition] = position
        self.commits.append(
            (partition, {NAMES[t]: s.version for t, s in sorted(states.items())}, position)
        )

    def restore(self, partition: int, frames: Mapping[str, bytes], position: int) -> None:
        self.reset_partition(partition)
        states = {}
        for thread_id, frame in frames.items():
            state = decode_snapshot(frame).state
            assert isinstance(state, Thread)
            states[thread_id] = state
        self.commit(partition, states, position)

    def reset_partition(self, partition: int) -> None:
        self.held = {k: v for k, v in self.held.items() if k[0] != partition}
        self.markers.pop(partition, None)

    def states(self, partition: int) -> Iterator[tuple[str, Thread]]:
        return iter([(t, s) for (p, t), s in sorted(self.held.items()) if p == partition])

    def versions(self) -> dict[tuple[int, str], int]:
        return {(p, NAMES[t]): s.version for (p, t), s in sorted(self.held.items())}


class Worker:
    """A worker's batch core; `store` is the local store it starts with; with `snapshots`, it
    writes snapshot rounds there (every `every_events` appended events of a partition) and
    restores from them."""

    def __init__(
        self,
        broker: Broker,
        *,
        hold: bool = False,
        store: MemoryStore | None = None,
        snapshots: MemorySnapshots | None = None,
        every_events: int = 1_000,
    ) -> None:
        self.store = MemoryStore() if store is None else store
        self.journal = BrokerJournal(broker)
        self.producer = ScriptedProducer(broker, hold=hold)
        self.snapshots = snapshots
        self.rounds = (
            None
            if snapshots is None
            else Rounds(snapshots, every_events=every_events, interval_s=3_600)
        )
        catch_up = journal_catch_up(self.store, self.journal, snapshots, self.rounds)  # type: ignore[arg-type]
        self.executor = BatchExecutor(
            states=ThreadStates(self.store, catch_up, self.rounds),
            producer=self.producer,
            topics=TOPICS,
            partitions=PARTITIONS,
        )

    def restarted(self) -> Worker:
        """The same worker after a crash: its store survives, nothing in memory does."""
        return Worker(self.producer.broker, store=self.store, snapshots=self.snapshots)


# -- records and labels --------------------------------------------------------------------


def record(
    value: bytes, partition: int, offset: int, *, reply_to: bytes | None = None, key: str = T0
) -> Record:
    headers = () if reply_to is None else ((REPLY_PARTITION_HEADER, reply_to),)
    return Record(
        TOPICS.commands, partition, offset, key.encode(), value, headers, STAMP_MS + offset
    )


def create(thread: str, cid: str, *, title: str = "Lunch") -> bytes:
    return encode_command(command(CreateThread(title, (), (BOB,)), thread=thread, cid=cid))


def join(thread: str, cid: str, sender: str = ALICE) -> bytes:
    return encode_command(command(JoinMemberIds((CAROL,)), sender=sender, thread=thread, cid=cid))


def destroy(thread: str, cid: str, sender: str) -> bytes:
    return encode_command(command(DestroyThread(), sender=sender, thread=thread, cid=cid))


def cid(n: int) -> str:
    """A command id (a valid ULID, distinct per n)."""
    return f"01HF7YAT0000000000000C{n:04d}"


def event_label(value: bytes) -> str:
    event = decode_event(value)
    return f"{NAMES[event.thread_id]}#{event.seq_nr}"


def label(r: OutgoingRecord) -> str:
    if r.topic == TOPICS.events:
        return f"journal[{r.partition}] {event_label(r.value)}"
    if r.topic == TOPICS.replies:
        reply = decode_reply(r.value)
        if isinstance(reply, CommandAccepted):
            return f"reply {NAMES[reply.thread_id]} v{reply.version}"
        return f"reply {NAMES.get(reply.thread_id, reply.thread_id)} {reply.reason.value}"
    reason = dict(r.headers or ())["threadweaver-dlq-reason"].decode()
    return f"dlq[{r.partition}] {reason}"


def reply_labels(producer: ScriptedProducer) -> list[str]:
    return [label(r) for s in producer.sends for r in s.records if r.topic == TOPICS.replies]


async def until_sent(producer: ScriptedProducer, count: int) -> None:
    """Wait for the `count`th send, then let the batch run as far as it gets without more
    acknowledgements."""
    for _ in range(2_000):
        if len(producer.sends) >= count:
            break
        await asyncio.sleep(0.001)
    else:
        pytest.fail(f"{len(producer.sends)} sends, waited for {count}: {producer.timeline}")
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
def broker() -> Broker:
    return Broker()


# -- the tests -----------------------------------------------------------------------------


async def test_an_unjournaled_reply_is_acknowledged_before_the_threads_next_append(
    broker: Broker,
) -> None:
    worker = Worker(broker)
    await worker.executor.process(
        [
            record(create(T0, cid(1)), 0, 0),
            record(destroy(T0, cid(2), sender=BOB), 0, 1),  # rejected: BOB is no administrator
            record(join(T0, cid(3)), 0, 2),
            record(create(T0B, cid(4)), 0, 3, key=T0B),
        ]
    )
    assert worker.producer.timeline == [
        "send journal[0] T0#1",
        "ack journal[0] T0#1 @0",
        "send reply T0 v1, reply T0 SENDER_NOT_ADMINISTRATOR",
        "ack reply T0 v1, reply T0 SENDER_NOT_ADMINISTRATOR",
        "send journal[0] T0#2, journal[0] T0B#1",
        "ack journal[0] T0#2 @1, journal[0] T0B#1 @2",
        "send reply T0 v2, reply T0B v1",
        "ack reply T0 v2, reply T0B v1",
    ]


async def test_a_reply_waits_for_the_acknowledgement_of_its_append(broker: Broker) -> None:
    worker = Worker(broker, hold=True)
    batch = asyncio.create_task(
        worker.executor.process(
            [
                record(destroy(T0, cid(1), sender=ALICE), 0, 0),  # THREAD_NOT_FOUND: no event
                record(create(T0, cid(2)), 0, 1),
            ]
        )
    )
    await until_sent(worker.producer, 1)
    (reply,) = worker.producer.unacknowledged()
    assert worker.producer.timeline == ["send reply T0 THREAD_NOT_FOUND"]
    worker.producer.ack(reply)
    await until_sent(worker.producer, 2)
    (append,) = worker.producer.unacknowledged()
    assert worker.producer.timeline[-1] == "send journal[0] T0#1"
    worker.producer.ack(append)
    await until_sent(worker.producer, 3)
    assert worker.producer.timeline[-1] == "send reply T0 v1"
    worker.producer.ack(worker.producer.sends[-1])
    await asyncio.wait_for(batch, 1)


async def test_replies_wait_for_every_partitions_append_acknowledged_in_any_order(
    broker: Broker,
) -> None:
    worker = Worker(broker, hold=True)
    batch = asyncio.create_task(
        worker.executor.process(
            [record(create(T0, cid(1)), 0, 0), record(create(T1, cid(2)), 1, 0, key=T1)]
        )
    )
    await until_sent(worker.producer, 2)
    append_0, append_1 = worker.producer.unacknowledged()
    # Both partitions' appends go out together, before any reply.
    assert worker.producer.timeline == ["send journal[0] T0#1", "send journal[1] T1#1"]
    worker.producer.ack(append_1)
    await until_sent(worker.producer, 2)
    assert len(worker.producer.sends) == 2
    worker.producer.ack(append_0)
    await until_sent(worker.producer, 3)
    assert worker.producer.timeline[-1] == "send reply T0 v1, reply T1 v1"
    worker.producer.ack(worker.producer.sends[-1])
    await asyncio.wait_for(batch, 1)
    worker.producer.hold = False

    # Both appends landed where expected: the next batch folds no journal again.
    await worker.executor.process([record(join(T1, cid(3)), 1, 1, key=T1)])
    assert worker.journal.reads == [(0, 0, 0), (1, 0, 0)]
    assert broker.journal(1) == ["T1#1", "T1#2"]
    worker.executor.store_all()
    assert worker.store.markers == {0: 1, 1: 2}
    assert worker.store.versions() == {(0, "T0"): 1, (1, "T1"): 2}


async def test_a_redelivered_command_gets_its_original_reply_and_no_second_append(
    broker: Broker,
) -> None:
    worker = Worker(broker)
    created = record(create(T0, cid(1)), 0, 0)
    await worker.executor.process([created])
    await worker.executor.process([created])  # its offset was not committed, say
    first, again = worker.producer.replies()
    assert first == again
    assert isinstance(first[1], CommandAccepted)
    assert (first[1].command_id, first[1].thread_id, first[1].version) == (cid(1), T0, 1)
    (event,) = broker.logs[(TOPICS.events, 0)]
    assert first[1].event_ids == (decode_event(event.value).event_id,)
    assert broker.journal(0) == ["T0#1"]


async def test_after_a_crash_between_append_and_reply_the_restart_replies_the_same(
    broker: Broker,
) -> None:
    worker = Worker(broker)
    worker.producer.failing.add(TOPICS.replies)
    batch = [
        record(create(T0, cid(1)), 0, 0),
        record(destroy(T0, cid(2), sender=BOB), 0, 1),
        record(join(T0, cid(3)), 0, 2),
    ]
    with pytest.raises(DeliveryError):
        await worker.executor.process(batch)
    # The first reply failed before the thread's next append: nothing after it went out.
    assert worker.producer.timeline == [
        "send journal[0] T0#1",
        "ack journal[0] T0#1 @0",
        "send reply T0 v1, reply T0 SENDER_NOT_ADMINISTRATOR",
        "fail reply T0 v1, reply T0 SENDER_NOT_ADMINISTRATOR",
    ]

    failed = worker.producer.replies()

    restarted = worker.restarted()
    await restarted.executor.process(batch)  # the uncommitted batch, read again
    assert restarted.producer.replies()[:2] == failed
    assert restarted.journal.reads == [(0, 0, 1)]
    assert broker.journal(0) == ["T0#1", "T0#2"]
    assert reply_labels(restarted.producer) == [
        "reply T0 v1",  # the original reply: the command id is remembered
        "reply T0 SENDER_NOT_ADMINISTRATOR",  # decided again: nothing of T0 changed since
        "reply T0 v2",
    ]


async def test_after_a_crash_between_the_threads_next_append_and_its_reply(
    broker: Broker,
) -> None:
    """The rejection's reply was acknowledged before the next append (the rule), so the
    restart skips the rejected command instead of deciding it against a newer state."""
    worker = Worker(broker, hold=True)
    batch = [
        record(create(T0, cid(1)), 0, 0),
        record(destroy(T0, cid(2), sender=BOB), 0, 1),
        record(join(T0, cid(3)), 0, 2),
    ]
    task = asyncio.create_task(worker.executor.process(batch))
    for count in (1, 2, 3):
        await until_sent(worker.producer, count)
        worker.producer.ack(worker.producer.sends[-1])
    await until_sent(worker.producer, 4)
    assert worker.producer.timeline[-1] == "send reply T0 v2"
    worker.producer.fail(worker.producer.sends[-1])
    with pytest.raises(DeliveryError):
        await task

    restarted = worker.restarted()
    await restarted.executor.process(batch)
    assert broker.journal(0) == ["T0#1", "T0#2"]
    assert reply_labels(restarted.producer) == ["reply T0 v1", "reply T0 v2"]


async def test_an_append_that_fails_stops_the_batch_before_any_reply(broker: Broker) -> None:
    worker = Worker(broker)
    worker.producer.failing.add(TOPICS.events)
    batch = [record(create(T0, cid(1)), 0, 0), record(create(T1, cid(2)), 1, 0, key=T1)]
    with pytest.raises(DeliveryError):
        await worker.executor.process(batch)
    assert worker.producer.replies() == []
    assert worker.producer.timeline[:2] == ["send journal[0] T0#1", "send journal[1] T1#1"]

    restarted = worker.restarted()
    await restarted.executor.process(batch)
    assert broker.journal(0) == ["T0#1"]
    assert broker.journal(1) == ["T1#1"]
    assert reply_labels(restarted.producer) == ["reply T0 v1", "reply T1 v1"]


async def test_a_misrouted_command_is_rejected_and_dead_lettered(broker: Broker) -> None:
    worker = Worker(broker)
    misrouted = create(T1, cid(1))  # T1 belongs to partition 1
    await worker.executor.process(
        [
            record(misrouted, 0, 5, key=T1, reply_to=b"3"),
            record(create(T1, cid(2)), 1, 0, key=T1),
        ]
    )
    wrong, right = worker.producer.replies()
    assert wrong == (
        3,
        CommandRejected(
            command_id=cid(1),
            thread_id=T1,
            reason=R.INVALID_COMMAND,
            message="thread_id: thread 01HF7YAT000000000000000X9S belongs to partition 1, "
            "the command was produced to partition 0 (use the murmur2 partitioner)",
        ),
    )
    # The thread's own command, in its partition, still creates it: nothing was decided.
    assert right[0] is None
    assert isinstance(right[1], CommandAccepted)
    assert right[1].version == 1
    assert broker.journal(0) == []
    assert broker.journal(1) == ["T1#1"]
    (letter,) = worker.producer.dead_letters()
    assert (letter.topic, letter.partition, letter.key, letter.value) == (
        TOPICS.commands_dlq,
        0,
        T1.encode(),
        misrouted,
    )
    assert dict(letter.headers or ()) == {
        REPLY_PARTITION_HEADER: b"3",
        "threadweaver-dlq-reason": b"MISROUTED",
        "threadweaver-dlq-error": b"thread_id: thread 01HF7YAT000000000000000X9S belongs to "
        b"partition 1, the command was produced to partition 0 (use the murmur2 partitioner)",
        "threadweaver-source-topic": b"threadweaver.thread-commands",
        "threadweaver-source-partition": b"0",
        "threadweaver-source-offset": b"5",
    }


async def test_an_undecodable_record_is_dead_lettered_and_the_partition_moves_on(
    broker: Broker,
) -> None:
    worker = Worker(broker)
    await worker.executor.process(
        [record(b"not a command", 0, 7), record(create(T0, cid(1)), 0, 8)]
    )
    (letter,) = worker.producer.dead_letters()
    headers = dict(letter.headers or ())
    assert (letter.partition, letter.value, letter.key) == (0, b"not a command", T0.encode())
    assert headers["threadweaver-dlq-reason"] == b"UNDECODABLE"
    assert headers["threadweaver-dlq-error"].startswith(b"not single-object encoding: 13 bytes")
    assert headers["threadweaver-source-offset"] == b"7"
    assert reply_labels(worker.producer) == ["reply T0 v1"]
    assert broker.journal(0) == ["T0#1"]


async def test_an_invalid_command_gets_a_rejection_and_a_dead_letter(broker: Broker) -> None:
    worker = Worker(broker)
    invalid = create(T0, cid(1), title="")
    await worker.executor.process([record(invalid, 0, 0), record(create(T0, cid(2)), 0, 1)])
    (rejection, accepted) = worker.producer.replies()
    assert rejection == (
        None,
        CommandRejected(cid(1), T0, R.INVALID_COMMAND, "title: must be 1..255 characters long"),
    )
    assert isinstance(accepted[1], CommandAccepted)
    assert accepted[1].version == 1
    (letter,) = worker.producer.dead_letters()
    headers = dict(letter.headers or ())
    assert letter.value == invalid
    assert headers["threadweaver-dlq-reason"] == b"INVALID_COMMAND"
    assert headers["threadweaver-dlq-error"] == b"title: must be 1..255 characters long"
    assert broker.journal(0) == ["T0#1"]


async def test_an_append_landing_elsewhere_makes_the_next_batch_catch_up_from_the_position(
    broker: Broker,
) -> None:
    worker = Worker(broker)
    created = record(create(T0, cid(1)), 0, 0)
    await worker.executor.process([created])
    assert worker.journal.reads == [(0, 0, 0)]
    # A zombie (the partition's previous owner) re-appends the event it decided for the same
    # command: identical bytes, one offset further.
    (event,) = broker.logs[(TOPICS.events, 0)]
    broker.append(event)

    await worker.executor.process([record(join(T0, cid(2)), 0, 1)])
    assert broker.journal(0) == ["T0#1", "T0#1", "T0#2"]
    # T0#2 landed at 2, not at 1: the states are stored with the old position...
    assert worker.store.commits[-1] == (0, {"T0": 2}, 1)
    assert worker.journal.reads == [(0, 0, 0)]

    # ...and the next batch folds the journal from there first (both events already folded).
    await worker.executor.process([record(destroy(T0, cid(3), sender=ALICE), 0, 2)])
    assert worker.journal.reads == [(0, 0, 0), (0, 1, 3)]
    assert broker.journal(0) == ["T0#1", "T0#1", "T0#2", "T0#3"]
    assert reply_labels(worker.producer)[-1] == "reply T0 v3"
    worker.executor.store_all()
    assert worker.store.markers == {0: 4}


async def test_revoked_partitions_are_stored_and_caught_up_again_when_they_come_back(
    broker: Broker,
) -> None:
    first, second = Worker(broker), Worker(broker)
    await first.executor.process(
        [record(create(T0, cid(1)), 0, 0), record(create(T1, cid(2)), 1, 0, key=T1)]
    )
    assert first.store.commits == [(0, {}, 0), (1, {}, 0)]  # the catch-ups only

    first.executor.forget([0])
    assert first.store.commits[-1] == (0, {"T0": 1}, 1)
    # Meanwhile partition 0's new owner changes T0.
    await second.executor.process([record(join(T0, cid(3)), 0, 1)])
    assert broker.journal(0) == ["T0#1", "T0#2"]

    # Back here, T0 is decided on the journal's state, not on the one this worker held.
    await first.executor.process(
        [record(destroy(T0, cid(4), sender=ALICE), 0, 2), record(join(T1, cid(5)), 1, 1, key=T1)]
    )
    assert first.journal.reads == [(0, 0, 0), (1, 0, 0), (0, 1, 2)]
    assert broker.journal(0) == ["T0#1", "T0#2", "T0#3"]
    assert reply_labels(first.producer)[-2:] == ["reply T0 v3", "reply T1 v2"]


async def test_states_are_stored_with_their_position_when_enough_are_dirty(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(states_module, "STORE_MAX_DIRTY", 2)
    worker = Worker(broker)
    await worker.executor.process([record(create(T0, cid(1)), 0, 0)])
    assert worker.store.commits == [(0, {}, 0)]
    await worker.executor.process([record(create(T0B, cid(2)), 0, 1, key=T0B)])
    assert worker.store.commits == [(0, {}, 0), (0, {"T0": 1, "T0B": 1}, 2)]


async def test_states_are_stored_when_the_interval_passed(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(states_module, "STORE_INTERVAL_S", 0.0)
    worker = Worker(broker)
    await worker.executor.process([record(create(T0, cid(1)), 0, 0)])
    assert worker.store.commits == [(0, {}, 0), (0, {"T0": 1}, 1)]


async def test_quiesce_stores_what_is_in_memory_and_holds_off_later_batches(
    broker: Broker,
) -> None:
    worker = Worker(broker)
    await worker.executor.process([record(create(T0, cid(1)), 0, 0)])
    await worker.executor.quiesce()
    assert worker.store.commits[-1] == (0, {"T0": 1}, 1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(worker.executor.process([record(join(T0, cid(2)), 0, 1)]), 0.05)
    assert broker.journal(0) == ["T0#1"]


async def test_standbys_fold_the_partitions_not_owned_here(broker: Broker) -> None:
    owner, standby = Worker(broker), Worker(broker)
    await owner.executor.process(
        [record(create(T0, cid(1)), 0, 0), record(create(T1, cid(2)), 1, 0, key=T1)]
    )
    await standby.executor.process([record(join(T1, cid(3)), 1, 1, key=T1)])
    await standby.executor.warm_standbys(PARTITIONS)
    # Partition 1 is the standby's own: caught up when its batch came, not warmed again.
    assert standby.journal.reads == [(1, 0, 1), (0, 0, 1), (2, 0, 0), (3, 0, 0)]
    assert standby.store.versions() == {(0, "T0"): 1, (1, "T1"): 1}
    assert standby.store.markers == {0: 1, 1: 1, 2: 0, 3: 0}


async def test_at_debug_each_command_is_logged_with_its_ids(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(broker)
    with caplog.at_level("DEBUG", logger="pipeline.worker.batch"):
        await worker.executor.process(
            [
                record(create(T0, cid(1)), 0, 0),
                record(destroy(T0, cid(2), sender=BOB), 0, 1),
                record(create(T0, cid(1)), 0, 2),
            ]
        )
    lines = [
        (r.getMessage(), r.command_id, r.thread_id, r.partition, r.offset)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "pipeline.worker.batch"
    ]
    assert lines == [
        ("command CreateThread: accepted at version 1", cid(1), T0, 0, 0),
        ("command DestroyThread: rejected (SENDER_NOT_ADMINISTRATOR)", cid(2), T0, 0, 1),
        ("command CreateThread: accepted before (duplicate)", cid(1), T0, 0, 2),
    ]
