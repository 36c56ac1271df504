"""The projector as a process, journal -> its own PostgreSQL database: rows, re-appends,
conflicts, gaps, bad records, database refusals, rebuild, verify and `db migrate`.

The session's journal is shared with other tests: every test here checks only its own
threads, and the read model is a database of this module's own.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from pipeline import domain
from pipeline.client.commands import new_id
from pipeline.codec import encode_event
from pipeline.domain import Accepted, AddedMessage, Event, EventBody, NewMessage
from pipeline.kafka.dead_letters import (
    REASON_HEADER,
    SOURCE_TOPIC_HEADER,
)
from pipeline.projector.fold import fold
from pipeline.settings import Settings
from pipeline.stack.migrate import discover
from pipeline.stack.provision import schemas_dir
from tests.support.builders import Aggregate, command
from tests.support.journal import JournalProducer, SyntheticJournal, conflicting
from tests.support.kafka import read_topic, thread_in
from tests.support.processes import Component, component_env, threadweaver
from tests.support.projector import (
    ReadModel,
    assert_read_model_equals_fold,
    create_read_model,
    drop_read_model,
    expected_versions,
    projector,
    read_back,
    versions,
    wait_for_versions,
)

pytestmark = pytest.mark.integration

T = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def read_model(stack: object) -> Iterator[ReadModel]:
    settings: Settings = stack.settings()  # type: ignore[attr-defined]
    model = create_read_model(settings, "projector")
    yield model
    assert settings.pg_dsn is not None
    drop_read_model(model, settings.pg_dsn)


@pytest.fixture(scope="module")
def running(read_model: ReadModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Component]:
    component = projector(read_model, tmp_path_factory.mktemp("projector"))
    component.start()
    yield component
    component.stop()


@pytest.fixture(scope="module")
def producer(read_model: ReadModel) -> JournalProducer:
    return JournalProducer(read_model.settings.bootstrap_servers, read_model.settings.partitions)


def cli(model: ReadModel, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return threadweaver(*args, env=component_env(model.settings, **model.env()), timeout=timeout)


def event(thread_id: str, seq_nr: int, body: EventBody, sender: str | None = None) -> Event:
    """An event as the worker would append it, built by hand (evolve never validates)."""
    return Event(
        event_id=new_id(),
        thread_id=thread_id,
        seq_nr=seq_nr,
        occurred_at=T + timedelta(seconds=seq_nr),
        command_id=new_id(),
        command_offset=seq_nr,
        sender_id=sender or new_id(),
        body=body,
    )


def created(thread_id: str, admin: str, title: str = "t") -> Event:
    return event(thread_id, 1, domain.ThreadCreated(admin, title, (admin,), ()), admin)


async def project(
    producer: JournalProducer,
    running: Component,
    model: ReadModel,
    events: list[Event],
    expected: dict[str, int] | None = None,
) -> None:
    """Produce `events`, wait until the read model has their threads at `expected` versions
    (default: fold's, which needs each thread's whole history in `events`)."""
    producer.send(events)
    producer.flush()
    threads = {e.thread_id for e in events}
    if expected is None:
        expected = expected_versions(fold(events), threads)
        assert set(expected) == threads, "pass `expected` for partial histories"
    await wait_for_versions(model.dsn, expected, component=running)


async def parked_row(dsn: str, thread: str) -> asyncpg.Record | None:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchrow(
            "SELECT * FROM projector_parked_threads WHERE thread_id = $1", thread
        )
    finally:
        await conn.close()


def dead_letters(settings: Settings) -> list[tuple[bytes, dict[str, bytes]]]:
    return [
        (r.value, r.headers)
        for r in read_topic(
            settings.bootstrap_servers, settings.topics.events_conflicts, settings.partitions
        )
    ]


async def test_a_thread_lifecycle_is_projected_row_by_row(
    read_model: ReadModel, running: Component, producer: JournalProducer
) -> None:
    thread, admin, member, other, leaver, parent = (new_id() for _ in range(6))
    first, second = new_id(), new_id()
    agg = Aggregate()

    def send(body: object, sender: str = admin) -> None:
        decision = agg.handle(command(body, sender=sender, thread=thread))  # type: ignore[arg-type]
        assert isinstance(decision, Accepted), decision
        assert decision.events, decision

    send(domain.CreateThread("Lunch", (), (member, other), parent_thread_id=parent, remarks="noon"))
    send(domain.JoinAdministratorIds((other,)))
    send(domain.LeaveAdministratorIds((other,)))
    send(domain.JoinMemberIds((leaver,)))
    send(domain.LeaveMemberIds((leaver,)), sender=leaver)
    send(domain.AddMessages((NewMessage(first, "hello", None, (admin,)),)), sender=member)
    send(domain.AddMessages((NewMessage(second, "re", first, ()),)), sender=other)
    send(domain.RemoveMessages((second,)))
    await project(producer, running, read_model, agg.events)
    views, parked = await read_back(read_model.dsn, [thread])
    view = views[thread]
    assert view == fold(agg.events).views[thread]
    assert parked == {}
    row = view.thread
    assert (row.creator_id, row.parent_thread_id, row.title, row.remarks) == (
        admin,
        parent,
        "Lunch",
        "noon",
    )
    assert (row.version, row.destroyed_at) == (8, None)
    assert row.updated_at == agg.events[-1].occurred_at
    assert [a.account_id for a in view.administrators] == [admin]
    assert sorted(m.account_id for m in view.members) == sorted([member, other])
    hello, reply = view.messages
    assert (hello.id, hello.sender_id, hello.to_account_ids, hello.removed_at) == (
        first,
        member,
        (admin,),
        None,
    )
    assert (reply.reply_message_id, reply.removed_by) == (first, admin)
    assert reply.removed_at == agg.events[-1].occurred_at

    send(domain.DestroyThread())
    await project(producer, running, read_model, agg.events)
    views, _ = await read_back(read_model.dsn, [thread])
    assert views[thread].thread.destroyed_at == agg.events[-1].occurred_at
    assert views[thread] == fold(agg.events).views[thread]


async def test_many_threads_equal_fold_of_the_journal(
    read_model: ReadModel, running: Component, producer: JournalProducer
) -> None:
    journal = SyntheticJournal(seed=21, threads=120, commands=2000)
    journal.destroy_some(0.1)
    await project(producer, running, read_model, journal.events)
    await assert_read_model_equals_fold(read_model.dsn, fold(journal.events), journal.thread_ids)


async def test_re_appended_events_are_skipped(
    read_model: ReadModel, running: Component, producer: JournalProducer
) -> None:
    admin = new_id()
    thread = new_id()
    events = [created(thread, admin)] + [
        event(thread, n, domain.MemberIdsJoined((new_id(),)), admin) for n in range(2, 6)
    ]
    await project(producer, running, read_model, events[:4])
    # What a worker re-appends after a crash: identical events, then the rest.
    again = [*events[1:4], *events[1:], events[0]]
    await project(producer, running, read_model, again, expected={thread: 5})
    await assert_read_model_equals_fold(read_model.dsn, fold(events), [thread])
    conn = await asyncpg.connect(read_model.dsn)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM thread_events WHERE thread_id = $1", thread
        )
    finally:
        await conn.close()
    assert count == 5


async def test_a_conflicting_event_is_dead_lettered_never_applied(
    read_model: ReadModel, running: Component, producer: JournalProducer
) -> None:
    admin = new_id()
    thread = new_id()
    events = [created(thread, admin), event(thread, 2, domain.MemberIdsJoined((new_id(),)), admin)]
    await project(producer, running, read_model, events)
    rogue = conflicting(replace(events[1], body=domain.MemberIdsJoined((new_id(),))))
    later = event(thread, 3, domain.MemberIdsJoined((new_id(),)), admin)
    producer.send([rogue, later])
    producer.flush()
    await wait_for_versions(read_model.dsn, {thread: 3}, component=running)
    await assert_read_model_equals_fold(read_model.dsn, fold([*events, later]), [thread])
    rogue_bytes = encode_event(rogue)
    letters = [h for value, h in dead_letters(read_model.settings) if value == rogue_bytes]
    assert letters, "the conflicting event was not dead-lettered"
    headers = letters[0]
    assert headers[REASON_HEADER] == b"CONFLICT"
    assert headers["threadweaver-applied-event-id"] == events[1].event_id.encode()
    assert headers[SOURCE_TOPIC_HEADER] == read_model.settings.topics.events.encode()
    assert f"CONFLICT in thread {thread}" in running.log_path.read_text()


async def test_a_gap_parks_its_thread_and_the_partition_moves_on(
    read_model: ReadModel, running: Component, producer: JournalProducer
) -> None:
    partitions = read_model.settings.partitions
    gappy = thread_in(0, partitions)
    neighbour = thread_in(0, partitions)
    admin = new_id()
    joins = [event(gappy, n, domain.MemberIdsJoined((new_id(),)), admin) for n in range(2, 7)]
    history = [created(gappy, admin), *joins]
    with_gap = [h for h in history if h.seq_nr != 4]
    producer.send(with_gap)
    producer.flush()
    # The neighbour, behind the gap in the same partition, is still projected.
    neighbour_created = created(neighbour, admin)
    await project(producer, running, read_model, [neighbour_created])
    await wait_for_versions(read_model.dsn, {gappy: 3}, component=running)
    views, parked = await read_back(read_model.dsn, [gappy])
    assert parked == {gappy: "gap"}
    assert views[gappy] == fold(history[:3]).views[gappy]
    await assert_read_model_equals_fold(
        read_model.dsn, fold([*with_gap, neighbour_created]), [gappy, neighbour]
    )
    row = await parked_row(read_model.dsn, gappy)
    assert row is not None
    assert (row["version"], row["found_seq_nr"], row["skipped_events"]) == (3, 5, 2)
    assert f"PARKED thread {gappy} (gap)" in running.log_path.read_text()


async def test_undecodable_and_invalid_records_are_dead_lettered(
    read_model: ReadModel, running: Component, producer: JournalProducer
) -> None:
    thread = new_id()
    garbage = os.urandom(40)
    producer.send_raw(thread, garbage)
    invalid = replace(created(thread, new_id()), seq_nr=0)
    producer.send_raw(thread, encode_event(invalid))
    await project(producer, running, read_model, [created(thread, new_id())])
    reasons = {value: h[REASON_HEADER] for value, h in dead_letters(read_model.settings)}
    assert reasons[garbage] == b"UNDECODABLE"
    assert reasons[encode_event(invalid)] == b"INVALID_EVENT"


async def test_history_beyond_todays_rules_projects(
    read_model: ReadModel, running: Component, producer: JournalProducer
) -> None:
    """Titles, texts and NULs the domain does not (or no longer) accept still project."""
    admin = new_id()
    thread = new_id()
    events = [
        created(thread, admin, title="x" * 1000),
        event(
            thread,
            2,
            domain.MessagesAdded((AddedMessage(new_id(), "y" * 10_000 + "\x00", None, ()),)),
            admin,
        ),
    ]
    await project(producer, running, read_model, events)
    await assert_read_model_equals_fold(read_model.dsn, fold(events), [thread])


async def test_an_event_the_database_refuses_parks_only_its_thread(
    read_model: ReadModel, running: Component, producer: JournalProducer
) -> None:
    admin = new_id()
    bad, good = new_id(), new_id()
    poison = event(bad, 2, domain.MemberIdsJoined(("NUL\x00IN-AN-ID",)), admin)
    producer.send(
        [created(bad, admin), poison, event(bad, 3, domain.MemberIdsJoined((new_id(),)), admin)]
    )
    await project(producer, running, read_model, [created(good, admin)])
    await wait_for_versions(read_model.dsn, {bad: 1}, component=running)
    _, parked = await read_back(read_model.dsn, [bad, good])
    assert parked == {bad: "apply_failed"}
    row = await parked_row(read_model.dsn, bad)
    assert row is not None
    assert (row["version"], row["found_event_id"], row["skipped_events"]) == (
        1,
        poison.event_id,
        2,
    )
    assert (await versions(read_model.dsn, [good])) == {good: 1}


async def test_verify_and_rebuild(
    read_model: ReadModel, running: Component, producer: JournalProducer
) -> None:
    journal = SyntheticJournal(seed=33, threads=30, commands=300)
    threads = sorted(journal.thread_ids)
    folded = fold(journal.events)
    await project(producer, running, read_model, journal.events)
    verified = cli(read_model, "projector", "verify", "--quiet", *only(threads))
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["equal"] == len(threads)

    refused = cli(read_model, "projector", "rebuild", "--yes", "--quiet")
    assert refused.returncode == 1
    assert "a projector is running" in refused.stderr

    # Damage the read model behind the projector's back; verify sees it, a rebuild repairs it.
    conn = await asyncpg.connect(read_model.dsn)
    try:
        await conn.execute("UPDATE threads SET title = 'damaged' WHERE id = $1", threads[0])
        await conn.execute("DELETE FROM thread_members WHERE thread_id = $1", threads[1])
    finally:
        await conn.close()
    damaged = cli(read_model, "projector", "verify", "--quiet", *only(threads))
    assert damaged.returncode == 1
    assert set(json.loads(damaged.stdout)["different"]) == {threads[0], threads[1]}

    running.stop()
    rebuilt = cli(read_model, "projector", "rebuild", "--yes", "--quiet")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["records"] >= len(journal.events)
    await assert_read_model_equals_fold(read_model.dsn, folded, threads)

    # The projector carries on from where the rebuild stopped.
    running.start()
    more = SyntheticJournal(seed=34, threads=5, commands=30)
    await project(producer, running, read_model, more.events)
    await assert_read_model_equals_fold(read_model.dsn, fold(more.events), more.thread_ids)
    assert "assigned journal partitions" in running.log_path.read_text()


def only(threads: list[str]) -> list[str]:
    return [arg for thread in threads for arg in ("--thread", thread)]


def test_db_migrate_is_idempotent(stack: object, read_model: ReadModel) -> None:
    settings: Settings = stack.settings()  # type: ignore[attr-defined]
    fresh = create_read_model(settings, "migrate", migrate=False)
    everything = [m.version for m in discover(schemas_dir() / "sql")]
    try:
        env = component_env(settings)
        env.pop("THREADWEAVER_PG_DSN", None)
        for expected in (everything, []):
            done = threadweaver("db", "migrate", "--dsn", fresh.dsn, env=env, timeout=60)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["applied"] == expected
    finally:
        assert settings.pg_dsn is not None
        drop_read_model(fresh, settings.pg_dsn)
