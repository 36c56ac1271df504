"""The in-memory journal holds to the Journal contract (tests/contracts/journal.py)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.contracts.journal import JournalContract
from tests.support.list_journal import ListJournal

pytestmark = pytest.mark.unit


class ListHarness:
    def __init__(self) -> None:
        self.journal = ListJournal()

    def append(self, partition: int, values: Sequence[bytes]) -> None:
        self.journal.append(partition, values)


class TestListJournal(JournalContract):
    @pytest.fixture
    def harness(self) -> ListHarness:
        return ListHarness()
