"""Fuzzing the command topic: whatever a producer writes, the worker stays up, dead-letters
every bad record with its original bytes and a reason, answers every decodable command once,
and appends events only for the commands it accepted.

Hypothesis generates the records (tests/fuzz/command_records.py); they go to the broker in
batches to one running worker, with valid commands ("canaries") of pre-existing threads
interleaved. THREADWEAVER_FUZZ_EXAMPLES sets how many (default 500; the long run >= 10,000),
THREADWEAVER_FUZZ_SEED which ones.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.client import SyncCommandClient
from pipeline.client.commands import CommandFactory, new_id
from pipeline.codec import CodecError, decode_event, decode_reply, encode_command
from pipeline.domain import AddMessages, Command, NewMessage, RejectionReason
from pipeline.kafka.dead_letters import (
    ERROR_HEADER,
    REASON_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
)
from pipeline.kafka.replies import CommandAccepted, CommandRejected, Reply
from pipeline.settings import Settings
from pipeline.worker.handling import shown
from tests.fuzz.broker import Outgoing, end_offsets, produce_all, read_since
from tests.fuzz.command_fates import Fate, Judged, judge
from tests.fuzz.command_records import FreshIds, FuzzRecord, Pool, Scope, fuzz_records
from tests.fuzz.generation import examples, fuzz_seed, generate, reproduce_with
from tests.support.kafka import Record, thread_in
from tests.support.processes import Component

pytestmark = [pytest.mark.fuzz, pytest.mark.integration]

TIMEOUT = 60.0
CANARY_EVERY = 20
f = CommandFactory()


@dataclass(frozen=True)
class Sent:
    label: str  # the fuzz family, or "canary"
    outgoing: Outgoing
    partition: int
    offset: int
    judged: Judged
    promise: Fate | None = None  # what the family guarantees, checked against the oracle


def accepted(reply: Reply) -> CommandAccepted:
    assert isinstance(reply, CommandAccepted), reply
    return reply


def create_pool(client: SyncCommandClient, partitions: int) -> Pool:
    """One thread in every partition, so that every partition sees canaries."""
    thread_ids: list[str] = []
    admins: list[str] = []
    for partition in range(partitions):
        thread = thread_in(partition, partitions)
        admin = new_id()
        accepted(client.send(f.create_thread(admin, "fuzz pool", thread_id=thread), TIMEOUT))
        thread_ids.append(thread)
        admins.append(admin)
    return Pool(tuple(thread_ids), tuple(admins))


def canary(pool: Pool, ids: FreshIds, n: int) -> Command:
    index = n % len(pool.thread_ids)
    return Command(
        command_id=ids(),
        thread_id=pool.thread_ids[index],
        sender_id=pool.admins[index],
        requested_at=datetime.now(tz=UTC).replace(microsecond=0),
        body=AddMessages((NewMessage(ids(), f"canary {n}"),)),
    )


def _promise(record: FuzzRecord) -> Fate | None:
    if record.family == "unknown-fingerprint":
        return Fate.UNDECODABLE
    return Fate.INVALID if record.broken is not None else None


def plan(records: Sequence[FuzzRecord], pool: Pool, ids: FreshIds) -> list[tuple[str, Outgoing]]:
    planned: list[tuple[str, Outgoing]] = []
    for n, record in enumerate(records):
        if n % CANARY_EVERY == 0:
            command = canary(pool, ids, n // CANARY_EVERY)
            key = command.thread_id.encode()
            planned.append(("canary", Outgoing(encode_command(command), key)))
        planned.append(
            (record.family, Outgoing(record.value, record.key, record.partition, record.headers))
        )
    return planned


def dead_letters_by_source(records: Sequence[Record], topic: str) -> dict[tuple[int, int], Record]:
    """Dead letters by (partition, offset) of their command record. The worker's own source
    headers come after the record's (a producer may forge them): the last one counts."""
    topic_h, partition_h, offset_h = (
        SOURCE_TOPIC_HEADER,
        SOURCE_PARTITION_HEADER,
        SOURCE_OFFSET_HEADER,
    )
    return {
        (int(r.headers[partition_h]), int(r.headers[offset_h])): r
        for r in records
        if r.headers.get(topic_h) == topic.encode()
    }


def decoded_replies(records: Sequence[Record]) -> dict[str, list[Reply]]:
    replies: dict[str, list[Reply]] = defaultdict(list)
    for record in records:
        try:
            reply = decode_reply(record.value)
        except CodecError:
            continue
        replies[reply.command_id].append(reply)
    return replies


def check_dead_letters(sent: Sequence[Sent], dead: dict[tuple[int, int], Record]) -> list[str]:
    problems = []
    for item in sent:
        letter = dead.get((item.partition, item.offset))
        where = f"{item.label} at {item.partition}/{item.offset} ({item.judged.fate.value})"
        if not item.judged.fate.dead_lettered:
            if letter is not None:
                problems.append(f"{where}: dead-lettered {letter.headers.get(REASON_HEADER)!r}")
            continue
        if letter is None:
            problems.append(f"{where}: not dead-lettered")
            continue
        if letter.value != (item.outgoing.value or b""):
            problems.append(f"{where}: dead letter is not the original bytes")
        if (letter.key or b"") != (item.outgoing.key or b""):
            problems.append(f"{where}: dead letter has another key")
        if letter.headers.get(REASON_HEADER) != item.judged.fate.value.encode():
            problems.append(f"{where}: reason {letter.headers.get(REASON_HEADER)!r}")
        if not letter.headers.get(ERROR_HEADER):
            problems.append(f"{where}: no error header")
    return problems


def check_replies(sent: Sequence[Sent], replies: dict[str, list[Reply]]) -> list[str]:
    """One reply per decodable record. A reply names an over-long id cut (handling.shown),
    so records are grouped by the id their replies carry."""
    problems = []
    by_id: dict[str, list[Sent]] = defaultdict(list)
    for item in sent:
        if item.judged.command is not None:
            by_id[shown(item.judged.command.command_id)].append(item)
    for command_id, items in by_id.items():
        got = replies.get(command_id, [])
        where = f"{items[0].label} {command_id[:40]!r} ({items[0].judged.fate.value})"
        if len(got) != len(items):
            problems.append(f"{where}: {len(got)} replies to {len(items)} records")
        if all(i.judged.fate in (Fate.INVALID, Fate.MISROUTED) for i in items):
            wrong = [
                r
                for r in got
                if not (
                    isinstance(r, CommandRejected) and r.reason is RejectionReason.INVALID_COMMAND
                )
            ]
            if wrong:
                problems.append(f"{where}: answered {wrong[0]!r:.200}")
        if any(i.label == "canary" for i in items) and not all(
            isinstance(r, CommandAccepted) for r in got
        ):
            problems.append(f"{where}: canary not accepted: {got!r:.300}")
    return problems


def check_journal(
    sent: Sequence[Sent], replies: dict[str, list[Reply]], journal: Sequence[Record]
) -> list[str]:
    """The run appended exactly the events of its accepted commands, once each."""
    fates: dict[str, set[Fate]] = defaultdict(set)
    for item in sent:
        if item.judged.command is not None:
            fates[item.judged.command.command_id].add(item.judged.fate)
    accepted_events = {
        event_id
        for command_id in fates
        for reply in replies.get(shown(command_id), [])
        if isinstance(reply, CommandAccepted)
        for event_id in reply.event_ids
    }
    appended: Counter[str] = Counter()
    problems = []
    for record in journal:
        try:
            event = decode_event(record.value)
        except CodecError:
            continue
        if event.command_id not in fates:
            continue  # the pool's creations and the final canaries
        appended[event.event_id] += 1
        if fates[event.command_id] != {Fate.DECIDED}:
            problems.append(f"event {event.event_id} of a rejected input {event.command_id!r:.60}")
    problems += [f"event {e} appended {n} times" for e, n in appended.items() if n > 1]
    problems += [
        f"event {e} of an accepted command not appended" for e in accepted_events - set(appended)
    ]
    problems += [
        f"event {e} appended without an accepted reply" for e in set(appended) - accepted_events
    ]
    return problems


def test_bad_command_records_are_dead_lettered_and_change_nothing(
    stack: Any, running_worker: Component
) -> None:
    settings: Settings = stack.settings()
    bootstrap, topics, partitions = settings.bootstrap_servers, settings.topics, settings.partitions
    with SyncCommandClient(settings) as client:
        pool = create_pool(client, partitions)
        watched = (topics.replies, topics.commands_dlq, topics.events)
        since = {topic: end_offsets(bootstrap, topic, partitions) for topic in watched}

        ids = FreshIds()
        records = generate(fuzz_records(Scope(pool, ids, partitions)), examples(), fuzz_seed())
        planned = plan(records, pool, ids)
        placed = produce_all(bootstrap, topics.commands, [outgoing for _, outgoing in planned])
        promises = iter([_promise(r) for r in records])
        sent = [
            Sent(
                label,
                outgoing,
                partition,
                offset,
                judge(outgoing.value, partition, partitions),
                None if label == "canary" else next(promises),
            )
            for (label, outgoing), (partition, offset) in zip(planned, placed, strict=True)
        ]
        # Two rounds: the worker takes one batch at a time, so an answer to the second round
        # means the batches holding the fuzz records are done (dead letters acknowledged).
        for _round in range(2):
            for index, thread in enumerate(pool.thread_ids):
                post = f.post(thread, pool.admins[index], "still there?")
                accepted(client.send(post, TIMEOUT))
        fresh = f.create_thread(new_id(), "after the fuzz")
        assert accepted(client.send(fresh, TIMEOUT)).version == 1

    assert running_worker.alive(), running_worker.log_tail()
    stats = Counter((item.label, item.judged.fate.value) for item in sent)
    print(f"command fuzz ({reproduce_with()}): {len(sent)} records, {sorted(stats.items())}")

    broken_promises = [
        f"{item.label} at {item.partition}/{item.offset}: {item.judged.fate}, "
        f"promised {item.promise}"
        for item in sent
        if item.promise is not None
        and not (
            item.judged.fate is item.promise
            or (item.promise is Fate.INVALID and item.judged.fate is Fate.MISROUTED)
        )
    ]
    dead = dead_letters_by_source(
        read_since(bootstrap, topics.commands_dlq, partitions, since[topics.commands_dlq]),
        topics.commands,
    )
    replies = decoded_replies(
        read_since(bootstrap, topics.replies, partitions, since[topics.replies])
    )
    journal = read_since(bootstrap, topics.events, partitions, since[topics.events])
    problems = [
        *broken_promises,
        *check_dead_letters(sent, dead),
        *check_replies(sent, replies),
        *check_journal(sent, replies, journal),
    ]
    assert not problems, f"{len(problems)} problems ({reproduce_with()}):\n" + "\n".join(
        problems[:30]
    )
