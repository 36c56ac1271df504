"""A private copy of the schema folder, for tests that release extra versions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import codec
from pipeline.codec.schemas import SCHEMAS_DIR_ENV, Topic, load_family
from tests.unit.codec.compat import ReleaseVersion


@pytest.fixture
def release_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseVersion]:
    """Point the codec at a copy of the released schemas; the fixture adds versions to it."""
    for topic in Topic:
        folder = tmp_path / "avro" / topic.value
        folder.mkdir(parents=True)
        for version in load_family(topic).versions:
            (folder / version.path.name).write_bytes(version.path.read_bytes())

    def release(topic: Topic, number: int, schema: dict[str, Any]) -> None:
        path = tmp_path / "avro" / topic.value / f"v{number}.avsc"
        path.write_text(json.dumps(schema), encoding="utf-8")
        codec.wire_codec.cache_clear()

    monkeypatch.setenv(SCHEMAS_DIR_ENV, str(tmp_path))
    codec.wire_codec.cache_clear()
    yield release
    codec.wire_codec.cache_clear()
