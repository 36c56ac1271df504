"""The mirror's unit tests run against one in-memory DynamoDB (tests/unit/mirror/support.py)."""

from __future__ import annotations

import pytest

from tests.unit.mirror.support import FakeDynamoDB


@pytest.fixture
def fake() -> FakeDynamoDB:
    return FakeDynamoDB()
