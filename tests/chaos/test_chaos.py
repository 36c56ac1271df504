"""Whole-system chaos: real processes (2 workers, the mirror, the projector, the API) on a
stack of their own under a command load through Kafka and HTTP, while a seeded fault
scheduler SIGKILLs and restarts every process type and every server of the stack (the broker,
PostgreSQL, the DynamoDB server, brought back by `stack up`); afterwards the system must be
quiet and every invariant hold.

Sizes and seed: tests/chaos/sizes.py (THREADWEAVER_CHAOS_*). A failing run prints the
environment that replays its fault schedule. The report (fault schedule + invariants) is
printed and written as JSON under the test's tmp dir (and to THREADWEAVER_CHAOS_REPORT if
set).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from pipeline.client import CommandClient
from pipeline.codec import CodecError, decode_event, decode_reply
from pipeline.domain import Event
from pipeline.kafka.producer import AsyncProducer
from pipeline.kafka.records import Record
from pipeline.kafka.scanner import scan
from pipeline.mirror import GROUP_ID as MIRROR_GROUP
from pipeline.mirror.aws import dynamodb_client
from pipeline.mirror.verify import verify as verify_mirror
from pipeline.projector.fold import fold
from pipeline.projector.readback import load_parked, load_views
from pipeline.projector.verify import compare as compare_read_model
from pipeline.settings import Settings, WorkerSettings
from pipeline.stack import Endpoints
from tests.chaos import checks, snapshots
from tests.chaos.faults import WIPED_RESTART, FaultEvent, FaultScheduler, plan_faults
from tests.chaos.load import Load
from tests.chaos.quiesce import wait_committed
from tests.chaos.report import print_report, write_report
from tests.chaos.scenario import Scenario
from tests.chaos.sizes import PREFIX, ChaosSizes
from tests.chaos.system import (
    BROKER,
    DYNAMODB,
    POSTGRES,
    PROCESS_TYPES,
    StackServers,
    System,
)
from tests.chaos.transports import HttpTransport, KafkaTransport
from tests.conftest import embedded_stack
from tests.support.projector import ReadModel, create_read_model, drop_read_model

SIZES = ChaosSizes.from_env()
# A liveness bound, not a performance assertion: no answer at all for this long is a stall.
STALL_S = 240.0
QUIET_TIMEOUT_S = 600.0
# The Kafka client's wait before it sends the same command again: shorter than a worker
# takeover (session timeout), so kills make clients re-send commands that are in flight.
KAFKA_REPLY_TIMEOUT_S = 4.0
VERIFY_READ_TIMEOUT_S = 300.0
PROGRESS_EVERY_S = 15.0
HTTP_POOLS = 8

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.timeout(int(1200 + SIZES.commands * 0.06)),
]


@pytest.fixture
def endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """A private stack: its servers are killed, which other tests must not see."""
    with embedded_stack(tmp_path_factory, "chaos-stack") as private:
        yield private


@contextlib.asynccontextmanager
async def clients(
    settings: Settings, system: System
) -> AsyncIterator[tuple[CommandClient, list[httpx.AsyncClient], AsyncProducer]]:
    producer = AsyncProducer(settings.kafka, client_id="chaos-garbage")
    async with contextlib.AsyncExitStack() as stack:
        kafka = await stack.enter_async_context(CommandClient(settings))
        http = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=system.api_url,
                    # Longer than the API's own reply timeout: the API answers 504 first.
                    timeout=httpx.Timeout(30.0, connect=5.0),
                    limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
                )
            )
            for _ in range(HTTP_POOLS)
        ]
        try:
            yield kafka, http, producer
        finally:
            producer.close()


async def watchdog(load: Load) -> str:
    """Returns only if the load stalls; prints progress meanwhile."""
    last, since, started, printed = -1, time.monotonic(), time.monotonic(), 0.0
    while True:
        await asyncio.sleep(5.0)
        now = time.monotonic()
        if now - printed >= PROGRESS_EVERY_S:
            printed = now
            print(f"  t={now - started:6.1f}s acknowledged={load.acknowledged}", flush=True)
        if load.acknowledged != last:
            last, since = load.acknowledged, time.monotonic()
        elif time.monotonic() - since > STALL_S:
            return f"no command answered for {STALL_S:.0f} s (at {last} acknowledged)"


def wiped_restarts(system: System, events: list[FaultEvent]) -> dict[str, list[snapshots.CaughtUp]]:
    """The catch-up lines of every worker run started on a wiped store (up to the worker's
    next start)."""
    logs = {worker.name: worker.log_path for worker in system.workers}
    found: dict[str, list[snapshots.CaughtUp]] = {}
    for i, event in enumerate(events):
        if event.action != WIPED_RESTART or event.log_offset is None:
            continue
        end = next(
            (
                later.log_offset
                for later in events[i + 1 :]
                if later.process == event.process and later.log_offset is not None
            ),
            None,
        )
        run = f"{event.process} at {event.at_s:.1f} s"
        found[run] = snapshots.caught_up_lines(logs[event.process], event.log_offset, end)
    return found


async def gather_evidence(
    settings: Settings,
    model: ReadModel,
    load: Load,
    exit_codes: dict[str, int | None],
    wiped: dict[str, list[snapshots.CaughtUp]],
) -> checks.Evidence:
    ledger = load.ledger
    threads = {case.thread_id for case in load.cases}
    touched = threads | {e.planned.command.thread_id for e in ledger.entries}
    keys = {thread_id.encode() for thread_id in touched}
    topics = settings.topics

    def read(topic: str) -> Iterator[Record]:
        return scan(settings.kafka, topic, range(settings.partitions), group_id="chaos-checks")

    def journal() -> list[tuple[Record, Event]]:
        return [
            (record, decode_event(record.value or b""))
            for record in read(topics.events)
            if record.key in keys
        ]

    def replies() -> tuple[dict[str, set[bytes]], int]:
        ours = {e.planned.command.command_id for e in ledger.entries}
        found: dict[str, set[bytes]] = defaultdict(set)
        count = 0
        for record in read(topics.replies):
            try:
                reply = decode_reply(record.value or b"")
            except CodecError:
                continue
            if reply.command_id in ours:
                found[reply.command_id].add(record.value or b"")
                count += 1
        return found, count

    events = await asyncio.to_thread(journal)
    snapshot_records = await asyncio.to_thread(snapshots.committed, settings, keys)
    aborted = await asyncio.to_thread(snapshots.aborted, settings, snapshot_records)
    found, reply_count = await asyncio.to_thread(replies)
    dead_letters = await asyncio.to_thread(lambda: list(read(topics.commands_dlq)))
    conn = await asyncpg.connect(model.dsn, timeout=10.0)
    try:
        views = await load_views(conn, touched)
        parked = await load_parked(conn, touched)
    finally:
        await conn.close()
    # Tens of thousands of items: a Scan page may take longer than the 10 s read timeout of
    # `threadweaver journal verify`'s client on a machine busy with the rest of the suite.
    dynamodb = dynamodb_client(settings, timeout_s=VERIFY_READ_TIMEOUT_S, sdk_attempts=5)
    mirror = await asyncio.to_thread(verify_mirror, dynamodb, settings)
    folded = fold([event for _record, event in events])
    projector = compare_read_model(folded, views, parked, threads)
    return checks.Evidence(
        journal=events,
        replies=dict(found),
        reply_records=reply_count,
        command_dead_letters=dead_letters,
        views=views,
        mirror=mirror,
        projector=projector,
        exit_codes=exit_codes,
        snapshots=snapshot_records,
        aborted_snapshots=aborted,
        wiped_restarts=wiped,
    )


def publish(
    tmp_path: Path,
    summary: dict[str, object],
    scheduler: FaultScheduler,
    results: list[checks.Check],
) -> Path:
    print_report(summary, scheduler.events, results)
    report = tmp_path / "chaos-report.json"
    write_report(report, summary, scheduler.events, results)
    print(f"chaos report: {report}")
    if os.environ.get(PREFIX + "REPORT"):
        shutil.copyfile(report, os.environ[PREFIX + "REPORT"])
    return report


async def test_invariants_hold_under_sigkills(endpoints: Endpoints, tmp_path: Path) -> None:
    sizes = SIZES
    print(f"\nchaos: {sizes.as_json()}\nreplay with: {sizes.replay_hint()}")
    settings = endpoints.settings()
    kills = {
        **dict.fromkeys((*PROCESS_TYPES, BROKER), sizes.kills),
        **dict.fromkeys((POSTGRES, DYNAMODB), sizes.server_kills),
    }
    model = create_read_model(settings, "chaos")
    system = System(settings, model, tmp_path / "logs")
    plan = plan_faults(random.Random(sizes.seed), kills)
    durations: dict[str, float] = {}
    started = time.monotonic()
    stall: str | None = None
    try:
        system.start()
        async with clients(settings, system) as (kafka, http, producer):
            load = Load(
                Scenario(random.Random(sizes.seed + 1), sizes.http_share),
                KafkaTransport(kafka, KAFKA_REPLY_TIMEOUT_S),
                HttpTransport(http),
                producer,
                settings,
            )
            scheduler = FaultScheduler(
                system,
                plan,
                lambda: load.acknowledged,
                sizes.commands,
                StackServers(endpoints.data_dir),
            )
            faults = asyncio.create_task(scheduler.run())

            async def drive() -> None:
                await load.create_threads(sizes.threads, sizes.concurrency)
                await load.run(sizes.commands - sizes.threads, sizes.concurrency)

            driving = asyncio.create_task(drive())
            guard = asyncio.create_task(watchdog(load))
            await asyncio.wait({driving, guard}, return_when=asyncio.FIRST_COMPLETED)
            durations["load"] = time.monotonic() - started
            if guard.done():
                stall = guard.result()
                driving.cancel()
            guard.cancel()
            scheduler.load_finished()
            await faults
            if stall is None:
                driving.result()
        if stall is None:
            quiet_started = time.monotonic()
            workers_group = WorkerSettings.from_env(system.workers[0].env).group_id
            for group, topic in (
                (workers_group, settings.topics.commands),
                (MIRROR_GROUP, settings.topics.events),
                (model.group_id, settings.topics.events),
            ):
                await wait_committed(settings, group, topic, system, QUIET_TIMEOUT_S)
            durations["quiescence"] = time.monotonic() - quiet_started
        else:
            stall += f"\n{system.log_tails()}"
    finally:
        exit_codes = system.stop()

    summary: dict[str, object] = {
        "sizes": sizes.as_json(),
        "replay": sizes.replay_hint(),
        "load": load.ledger.summary(),
        "durations_s": durations,
        "kills_under_load": dict(scheduler.kills_by_type()),
    }
    if stall is not None:
        # A wedged system has nothing meaningful to verify: report the schedule and stop.
        results = [checks.Check("every command answered (liveness)", False, {}, (stall,))]
        report = publish(tmp_path, summary, scheduler, results)
        pytest.fail(f"{stall}\nreplay: {sizes.replay_hint()}; report {report}")

    evidence_started = time.monotonic()
    wiped = wiped_restarts(system, scheduler.events)
    evidence = await gather_evidence(settings, model, load, exit_codes, wiped)
    durations["evidence"] = time.monotonic() - evidence_started
    durations["total"] = time.monotonic() - started
    summary["durations_s"] = {name: round(seconds, 1) for name, seconds in durations.items()}
    results = [
        checks.outcomes_agree(load.ledger),
        checks.effects_exactly_once(load.ledger, load.cases, evidence),
        checks.journal_gapless(load.cases, evidence),
        checks.mirror_verified(evidence),
        checks.read_model_is_fold(evidence),
        checks.one_final_reply(load.ledger, evidence),
        checks.bad_input_contained(load.ledger, evidence),
        checks.read_your_writes(load.ledger),
        checks.faults_survived(scheduler, kills, evidence),
        checks.snapshots_match_journal(evidence),
        checks.snapshots_exercised(scheduler.events, evidence),
    ]
    report = publish(tmp_path, summary, scheduler, results)
    failed = [c.name for c in results if not c.ok]
    assert not failed, f"failed: {failed}; replay: {sizes.replay_hint()}; report {report}"
    drop_read_model(model, endpoints.pg_dsn)
