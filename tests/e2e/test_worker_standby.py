"""Standby replicas: a worker keeps warm copies of the partitions another worker owns."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.client import CommandClient, CommandFactory
from pipeline.client.commands import new_id
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.replies import CommandAccepted
from pipeline.settings import Settings
from pipeline.worker.store import ThreadStore
from tests.support.processes import worker

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_each_worker_folds_every_partition_with_standby(
    stack: object, tmp_path: Path
) -> None:
    settings: Settings = stack.settings()  # type: ignore[attr-defined]
    workers = [worker(settings, tmp_path, f"standby-{i}") for i in range(2)]
    for component in workers:
        component.env.update(
            THREADWEAVER_WORKER_GROUP_ID="threadweaver-worker-standby",
            THREADWEAVER_WORKER_STANDBY_REPLICAS="1",
            THREADWEAVER_WORKER_STANDBY_INTERVAL_S="0.5",
        )
        component.start()
    factory = CommandFactory()
    try:
        async with CommandClient(settings) as client:
            for n in range(40):  # enough threads to touch every partition
                reply = await client.send(factory.create_thread(new_id(), f"t{n}"), 120)
                assert isinstance(reply, CommandAccepted)
        ends = end_offsets(settings.kafka, settings.topics.events, range(settings.partitions))
        time.sleep(3)  # a few standby rounds
    finally:
        codes = [component.stop() for component in workers]
    assert codes == [0, 0], [c.log_tail() for c in workers]
    for component in workers:
        store = ThreadStore(component.data_dir / "threads")
        try:
            positions = {p: store.journal_position(p) for p in range(settings.partitions)}
        finally:
            store.close()
        # Owned partitions are folded by the executor, the others by the standby warm-up.
        assert positions == ends, component.name
