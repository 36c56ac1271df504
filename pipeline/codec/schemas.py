"""The released Avro schemas of each topic: loading, canonical forms, fingerprints.

Every released version stays in `schemas/avro/<topic>/v<N>.avsc` (see schemas/avro/README.md):
the highest version is the writer and reader schema, and every version is kept so that a
record written by an old producer can still be read by its fingerprint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, cast

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from pipeline.settings import Settings

SCHEMAS_DIR_ENV: Final = Settings.variable("schemas_dir")
NAMESPACE: Final = "threadweaver.v1"
_VERSION_FILE: Final = re.compile(r"v([1-9][0-9]*)\.avsc")

AvroSchema = dict[str, Any]


class Topic(StrEnum):
    """A topic schema family; the value is its folder under schemas/avro."""

    COMMAND = "thread_command"
    EVENT = "thread_event"
    REPLY = "thread_reply"
    SNAPSHOT = "thread_snapshot"


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    topic: Topic
    version: int
    path: Path
    raw: AvroSchema
    # fastavro's parsed form: parsing is the expensive part, so it is done once here.
    parsed: AvroSchema
    canonical_form: str
    fingerprint: bytes


@dataclass(frozen=True, slots=True)
class SchemaFamily:
    topic: Topic
    versions: tuple[SchemaVersion, ...]
    by_fingerprint: Mapping[bytes, SchemaVersion]

    @property
    def current(self) -> SchemaVersion:
        return self.versions[-1]


def schemas_dir() -> Path:
    """`$THREADWEAVER_SCHEMAS_DIR`, else `schemas/` at the repository root (Settings)."""
    settings = Settings.from_env()
    override, root = settings.schemas_dir, settings.schemas_path
    if not (root / "avro").is_dir():
        hint = f"set {SCHEMAS_DIR_ENV}" if not override else f"check {SCHEMAS_DIR_ENV}"
        raise FileNotFoundError(
            f"Avro schema folder {root / 'avro'} not found ({hint} to the folder holding avro/)"
        )
    return root


def fingerprint64(canonical_form: str) -> bytes:
    """CRC-64-AVRO (Rabin) fingerprint of a Parsing Canonical Form, as the 8 wire bytes.

    fastavro renders the 64-bit value's little-endian bytes as hex (`"int"` gives
    8f5c393f1ad57572 for the spec's 0x7275d51a3f395c8f), which is exactly the byte order the
    single-object encoding puts on the wire; tests pin this against an independent Rabin
    implementation.
    """
    return bytes.fromhex(fingerprint(canonical_form, "CRC-64-AVRO"))


def load_version(topic: Topic, path: Path) -> SchemaVersion:
    match = _VERSION_FILE.fullmatch(path.name)
    if match is None:
        raise ValueError(f"{path}: schema files must be named v<N>.avsc")
    text = path.read_text(encoding="utf-8")
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a topic schema must be a JSON object (a record)")
    canonical = to_parsing_canonical_form(raw)
    return SchemaVersion(
        topic=topic,
        version=int(match.group(1)),
        path=path,
        raw=raw,
        parsed=cast(AvroSchema, fastavro.parse_schema(json.loads(text))),
        canonical_form=canonical,
        fingerprint=fingerprint64(canonical),
    )


def load_family(topic: Topic, root: Path | None = None) -> SchemaFamily:
    folder = (root if root is not None else schemas_dir()) / "avro" / topic.value
    versions = sorted(
        (load_version(topic, path) for path in folder.glob("*.avsc")),
        key=lambda version: version.version,
    )
    if not versions:
        raise FileNotFoundError(f"no schema versions in {folder}")
    by_fingerprint: dict[bytes, SchemaVersion] = {}
    # Ascending order: a later version with the same canonical form (only docs or defaults
    # changed) writes identical bytes, and the later entry lets it take the no-resolution path.
    for version in versions:
        known = by_fingerprint.get(version.fingerprint)
        if known is not None and known.canonical_form != version.canonical_form:
            raise ValueError(f"fingerprint collision: {known.path} and {version.path}")
        by_fingerprint[version.fingerprint] = version
    return SchemaFamily(topic=topic, versions=tuple(versions), by_fingerprint=by_fingerprint)
