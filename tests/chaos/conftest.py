"""The chaos suite runs last in a session that also runs other tests.

It appends tens of thousands of events to the session stack's shared journal; tests that
read the whole journal (`journal verify`, a fresh read model projected from offset 0) would
otherwise all pay for them.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: every other test keeps its order.
    items.sort(key=lambda item: item.get_closest_marker("chaos") is not None)
