"""The in-memory snapshot topic holds to the SnapshotTopic contract (tests/contracts)."""

from __future__ import annotations

import pytest

from pipeline.worker.snapshots import SnapshotTopic
from tests.contracts.snapshots import SnapshotsContract
from tests.support.memory_snapshots import MemorySnapshots

pytestmark = pytest.mark.unit


class TestMemorySnapshots(SnapshotsContract):
    @pytest.fixture
    def snapshots(self) -> SnapshotTopic:
        return MemorySnapshots()
