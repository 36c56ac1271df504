"""The in-memory DynamoDB holds to the DynamoDB contract (tests/contracts/dynamodb.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.contracts.dynamodb import DynamoDBContract
from tests.unit.mirror.support import FakeDynamoDB

pytestmark = pytest.mark.unit


@dataclass
class FakeHarness:
    table: str = "contract"
    client: FakeDynamoDB = field(init=False)

    def __post_init__(self) -> None:
        self.client = FakeDynamoDB(self.table)


class TestFakeDynamoDB(DynamoDBContract):
    @pytest.fixture
    def harness(self) -> FakeHarness:
        return FakeHarness()
