"""Kill test: the projector is SIGKILLed and restarted while it projects a few thousand
events (re-appends included); afterwards the read model equals fold(journal), thread by
thread.

Small batches keep the projector busy (many transactions and offset commits per second), so
a kill soon after it resumes lands inside a batch, in the window between the database
commit and the offset commit, or in the offset commit itself. Each restart re-reads from the
last committed offsets and must skip what it already applied.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import asyncpg
import pytest

from pipeline.codec import decode_event
from pipeline.domain import Event
from pipeline.projector.fold import fold
from pipeline.settings import Settings
from tests.support.journal import JournalProducer, SyntheticJournal
from tests.support.kafka import read_topic
from tests.support.processes import Component
from tests.support.projector import (
    assert_read_model_equals_fold,
    create_read_model,
    drop_read_model,
    expected_versions,
    journal_events,
    projector,
    wait_for_versions,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

THREADS = 150
COMMANDS = 4_500
CHUNKS = 5  # the projector is killed part-way through each but the last
KILLS = CHUNKS - 1


async def applied_count(dsn: str, threads: set[str]) -> int:
    """Events of `threads` applied (other tests' threads share the journal)."""
    conn = await asyncpg.connect(dsn, timeout=10.0)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM thread_events WHERE thread_id = ANY($1::text[])",
                sorted(threads),
            )
        )
    finally:
        await conn.close()


async def wait_for_count(
    dsn: str, threads: set[str], count: int, component: Component, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while await applied_count(dsn, threads) < count:
        assert component.alive(), component.log_tail()
        assert time.monotonic() < deadline, "no progress after restart\n" + component.log_tail()
        await asyncio.sleep(0.01)


def chunks_with_re_appends(
    events: list[Event], rng: random.Random
) -> list[tuple[list[Event], int]]:
    """The journal split in CHUNKS, each also re-appending a few events of earlier chunks
    (what a worker does after a crash): the projector must skip them. With each chunk, the
    number of new events in it."""
    size = -(-len(events) // CHUNKS)
    chunks = [events[i : i + size] for i in range(0, len(events), size)]
    produced: list[Event] = []
    result = []
    for chunk in chunks:
        re_appends = rng.sample(produced, min(25, len(produced)))
        produced.extend(chunk)
        result.append(([*chunk, *re_appends], len(chunk)))
    return result


async def test_read_model_equals_fold_after_sigkills(stack: object, tmp_path: Path) -> None:
    settings: Settings = stack.settings()  # type: ignore[attr-defined]
    assert settings.pg_dsn is not None
    rng = random.Random(20261123)
    journal = SyntheticJournal(seed=20261123, threads=THREADS, commands=COMMANDS)
    journal.destroy_some(0.05)
    ours = journal.thread_ids
    chunks = chunks_with_re_appends(journal.events, rng)

    model = create_read_model(settings, "kill")
    component = projector(model, tmp_path, THREADWEAVER_PROJECTOR_BATCH_MAX="40")
    producer = JournalProducer(settings.bootstrap_servers, settings.partitions)
    schedule: list[str] = []
    started = time.monotonic()
    mid_chunk_kills = 0
    try:
        component.start()
        for number, (chunk, new) in enumerate(chunks):
            before = await applied_count(model.dsn, ours)
            producer.send(chunk)
            producer.flush()
            if number == KILLS:
                break
            # Kill part-way through the chunk: the projector is busy with it.
            target = before + int(new * rng.uniform(0.1, 0.8))
            await wait_for_count(model.dsn, ours, target, component, timeout=90)
            component.kill()
            at_kill = await applied_count(model.dsn, ours)
            mid_chunk_kills += at_kill < before + new
            schedule.append(
                f"{time.monotonic() - started:5.1f}s SIGKILL at {at_kill} applied "
                f"(chunk {number}: {before}..{before + new})"
            )
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            component.start()

        events = journal_events(settings, ours)
        assert len(events) == sum(len(c) for c, _ in chunks)
        folded = fold(events)
        await wait_for_versions(
            model.dsn, expected_versions(folded, ours), timeout=120, component=component
        )
        print("\nkill schedule:\n  " + "\n  ".join(schedule))
        assert component.starts == KILLS + 1
        assert mid_chunk_kills >= 3, schedule
        await assert_read_model_equals_fold(model.dsn, folded, ours)

        # Each (thread, seq_nr) applied once; the re-appends and redeliveries were skipped.
        distinct = {(e.thread_id, e.seq_nr) for e in events}
        conn = await asyncpg.connect(model.dsn)
        try:
            recorded = await conn.fetchval(
                "SELECT count(*) FROM thread_events WHERE thread_id = ANY($1::text[])",
                sorted(ours),
            )
        finally:
            await conn.close()
        assert recorded == len(distinct) < len(events)
        # Nothing of ours was taken for a conflict.
        for record in read_topic(
            settings.bootstrap_servers, settings.topics.events_conflicts, settings.partitions
        ):
            if record.key is not None and record.key.decode() in ours:
                raise AssertionError(f"dead letter for our thread: {decode_event(record.value)}")
    finally:
        code = component.stop()
    assert code == 0, component.log_tail()
    drop_read_model(model, settings.pg_dsn)
