"""Projector tests: a read model of their own (a fresh database and consumer group on the
session stack, so the shared journal's other threads and other tests' tables do not
matter), the projector as a process, and waiting for / comparing the read model."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from pipeline.codec import CodecError, decode_event
from pipeline.domain import Event
from pipeline.projector.fold import Folded, ThreadView
from pipeline.projector.readback import load_parked, load_views
from pipeline.settings import Settings
from pipeline.stack.aio import run_sync
from pipeline.stack.migrate import apply_migrations
from pipeline.stack.provision import schemas_dir
from tests.support.kafka import read_topic
from tests.support.processes import Component, launcher


@dataclass(frozen=True)
class ReadModel:
    settings: Settings  # pg_dsn points at the fresh database
    group_id: str
    database: str

    @property
    def dsn(self) -> str:
        assert self.settings.pg_dsn is not None
        return self.settings.pg_dsn

    def env(self) -> dict[str, str]:
        return {
            "THREADWEAVER_PG_DSN": self.dsn,
            "THREADWEAVER_PROJECTOR_GROUP_ID": self.group_id,
            "THREADWEAVER_PROJECTOR_METRICS_PORT": "0",
            "THREADWEAVER_PROJECTOR_LOG_INTERVAL_S": "2",
        }


def _with_database(dsn: str, database: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + database


def create_read_model(settings: Settings, label: str, *, migrate: bool = True) -> ReadModel:
    assert settings.pg_dsn is not None
    database = f"tw_{label}_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(settings.pg_dsn, timeout=10.0)
        try:
            await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()
        if migrate:
            dsn = _with_database(settings.pg_dsn or "", database)
            await apply_migrations(dsn, schemas_dir() / "sql")

    run_sync(create)
    return ReadModel(
        settings.replaced(pg_dsn=_with_database(settings.pg_dsn, database)),
        group_id=f"tests-projector-{label}-{uuid.uuid4().hex[:8]}",
        database=database,
    )


def drop_read_model(model: ReadModel, admin_dsn: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(admin_dsn, timeout=10.0)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{model.database}" WITH (FORCE)')
        finally:
            await conn.close()

    run_sync(drop)


def projector(model: ReadModel, log_dir: Path, name: str = "projector", **env: str) -> Component:
    return launcher(model.settings, log_dir).projector(name, env={**model.env(), **env})


async def versions(dsn: str, thread_ids: Collection[str]) -> dict[str, int]:
    conn = await asyncpg.connect(dsn, timeout=10.0)
    try:
        rows = await conn.fetch(
            "SELECT id, version FROM threads WHERE id = ANY($1::text[])", sorted(thread_ids)
        )
    finally:
        await conn.close()
    return {row["id"]: int(row["version"]) for row in rows}


async def wait_for_versions(
    dsn: str,
    expected: Mapping[str, int],
    timeout: float = 60.0,
    component: Component | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        got = await versions(dsn, expected)
        behind = {t: (got.get(t), v) for t, v in expected.items() if got.get(t) != v}
        if not behind:
            return
        if time.monotonic() > deadline:
            tail = component.log_tail() if component is not None else ""
            sample = dict(list(behind.items())[:5])
            raise AssertionError(f"{len(behind)} threads not at their version: {sample}\n{tail}")
        await asyncio.sleep(0.2)


async def read_back(
    dsn: str, thread_ids: Collection[str]
) -> tuple[dict[str, ThreadView], dict[str, str]]:
    conn = await asyncpg.connect(dsn, timeout=10.0)
    try:
        return await load_views(conn, thread_ids), await load_parked(conn, thread_ids)
    finally:
        await conn.close()


def journal_events(settings: Settings, thread_ids: Collection[str]) -> list[Event]:
    """The journal's decodable events of `thread_ids`, in journal order."""
    wanted = set(thread_ids)
    events = []
    for record in read_topic(
        settings.bootstrap_servers, settings.topics.events, settings.partitions
    ):
        try:
            event = decode_event(record.value)
        except CodecError:
            continue
        if event.thread_id in wanted:
            events.append(event)
    return events


def expected_versions(folded: Folded, thread_ids: Collection[str]) -> dict[str, int]:
    return {t: folded.views[t].thread.version for t in thread_ids if t in folded.views}


async def assert_read_model_equals_fold(
    dsn: str, folded: Folded, thread_ids: Collection[str]
) -> None:
    views, parked = await read_back(dsn, thread_ids)
    assert set(views) == {t for t in thread_ids if t in folded.views}
    different = [t for t in thread_ids if views.get(t) != folded.views.get(t)]
    assert not different, (
        f"{len(different)} threads differ from fold(journal), e.g. {different[0]}:\n"
        f"expected {folded.views.get(different[0])}\n"
        f"got      {views.get(different[0])}"
    )
    assert parked == {t: r.value for t, r in folded.parked.items() if t in thread_ids}
