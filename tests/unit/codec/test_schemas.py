"""The schema files: valid, documented, namespaced, complete against the domain, and never
edited once released."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from pathlib import Path
from typing import Any

import fastavro
import pytest

from pipeline.codec import mapping
from pipeline.codec.schemas import (
    NAMESPACE,
    SCHEMAS_DIR_ENV,
    Topic,
    load_family,
    schemas_dir,
)
from pipeline.domain.commands import Command, CommandBody
from pipeline.domain.events import Event, EventBody
from pipeline.domain.rejections import RejectionReason
from pipeline.kafka.replies import Reply

pytestmark = pytest.mark.unit

AVRO_DIR = schemas_dir() / "avro"
SCHEMA_FILES = sorted(AVRO_DIR.glob("*/*.avsc"))
TOP_LEVEL = {
    Topic.COMMAND: ("ThreadCommand", Command, typing.get_args(CommandBody)),
    Topic.EVENT: ("ThreadEvent", Event, typing.get_args(EventBody)),
    Topic.REPLY: ("ThreadReply", None, typing.get_args(Reply)),
}


def named_types(schema: Any) -> list[dict[str, Any]]:
    """Every record and enum definition inside a schema."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, list):
        for branch in schema:
            found += named_types(branch)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed"):
            found.append(schema)
        for field in schema.get("fields", []):
            found += named_types(field["type"])
        for key in ("items", "values"):
            if key in schema:
                found += named_types(schema[key])
        if isinstance(schema.get("type"), dict | list):
            found += named_types(schema["type"])
    return found


def test_there_is_a_schema_for_every_topic() -> None:
    assert {path.parent.name for path in SCHEMA_FILES} == {topic.value for topic in Topic}


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_file_is_valid_documented_and_namespaced(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    fastavro.parse_schema(raw)  # raises on an invalid schema or a bad default
    assert raw["namespace"] == NAMESPACE
    for named in named_types(raw):
        # Nested names inherit the namespace; none may step outside it.
        assert "." not in named["name"] or named["name"].startswith(f"{NAMESPACE}.")
        assert named.get("doc"), f"{named['name']} has no doc"
        for field in named.get("fields", []):
            assert field.get("doc"), f"{named['name']}.{field['name']} has no doc"


# Snapshots are mapped by hand (pipeline/codec/snapshot.py; test_snapshot.py checks them).
@pytest.mark.parametrize("topic", list(TOP_LEVEL))
def test_the_mapping_table_is_complete(topic: Topic) -> None:
    name, _, bodies = TOP_LEVEL[topic]
    current = load_family(topic).current.raw
    assert current["name"] == name
    payload = next(f for f in current["fields"] if f["name"] == "payload")
    branches = [f"{NAMESPACE}.{branch['name']}" for branch in payload["type"]]
    assert len(branches) == len(set(branches))
    # Exactly one Avro record per body type, and no record without a body type.
    assert sorted(mapping.RECORD_NAMES[body] for body in bodies) == sorted(branches)


def test_the_mapping_table_names_nothing_else() -> None:
    bodies = {body for _, _, group in TOP_LEVEL.values() for body in group}
    assert set(mapping.RECORD_NAMES) == bodies
    assert len(set(mapping.RECORD_NAMES.values())) == len(mapping.RECORD_NAMES)


def _assert_fields_match(record: dict[str, Any], cls: type[Any]) -> None:
    python = [mapping.AVRO_FIELD_NAMES.get(f.name, f.name) for f in dataclasses.fields(cls)]
    avro = [field["name"] for field in record["fields"]]
    assert sorted(python) == sorted(avro), cls.__name__
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        item = typing.get_args(hint)[0] if typing.get_origin(hint) is tuple else None
        if isinstance(item, type) and dataclasses.is_dataclass(item):  # tuple[NewMessage, ...]
            avro_field = next(f for f in record["fields"] if f["name"] == field.name)
            _assert_fields_match(avro_field["type"]["items"], item)


@pytest.mark.parametrize("topic", list(TOP_LEVEL))
def test_record_fields_match_the_dataclasses(topic: Topic) -> None:
    _, envelope, bodies = TOP_LEVEL[topic]
    current = load_family(topic).current.raw
    if envelope is not None:
        _assert_fields_match(current, envelope)
    payload = next(f for f in current["fields"] if f["name"] == "payload")
    by_name = {f"{NAMESPACE}.{branch['name']}": branch for branch in payload["type"]}
    for body in bodies:
        _assert_fields_match(by_name[mapping.RECORD_NAMES[body]], body)


def test_rejection_reason_symbols_are_the_enum_values() -> None:
    reasons = [t for t in named_types(load_family(Topic.REPLY).current.raw) if t["type"] == "enum"]
    assert len(reasons) == 1
    assert reasons[0]["symbols"] == [reason.value for reason in RejectionReason]
    assert reasons[0]["default"] == RejectionReason.INVALID_COMMAND.value


# Released files are immutable -----------------------------------------------------------------


def released() -> dict[str, str]:
    lines = (AVRO_DIR / "RELEASED.sha256").read_text(encoding="utf-8").splitlines()
    entries = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    return {name: digest for digest, name in entries}


def test_every_schema_file_is_released() -> None:
    # A new version must be listed (with its hash) when it is added.
    assert sorted(released()) == sorted(p.relative_to(AVRO_DIR).as_posix() for p in SCHEMA_FILES)


@pytest.mark.parametrize(("name", "digest"), sorted(released().items()))
def test_released_schema_was_never_edited(name: str, digest: str) -> None:
    content = (AVRO_DIR / name).read_bytes()
    assert hashlib.sha256(content).hexdigest() == digest, f"{name} was edited: add a new version"


# Loading --------------------------------------------------------------------------------------


def _copy_family(root: Path, topic: Topic, names: list[str]) -> None:
    raw = load_family(topic).current.raw
    folder = root / "avro" / topic.value
    folder.mkdir(parents=True)
    for number, name in enumerate(names):
        variant = dict(raw, doc=f"{raw['doc']} ({number})")
        (folder / name).write_text(json.dumps(variant), encoding="utf-8")


def test_versions_sort_numerically_and_the_highest_is_current(tmp_path: Path) -> None:
    _copy_family(tmp_path, Topic.REPLY, ["v2.avsc", "v10.avsc", "v1.avsc", "notes.txt"])
    family = load_family(Topic.REPLY, root=tmp_path)
    assert [version.version for version in family.versions] == [1, 2, 10]
    assert family.current.version == 10
    # Doc-only changes keep the canonical form: one fingerprint, read without resolution.
    assert list(family.by_fingerprint.values()) == [family.current]


def test_bad_file_name_is_refused(tmp_path: Path) -> None:
    _copy_family(tmp_path, Topic.REPLY, ["v1.avsc", "v01.avsc"])
    with pytest.raises(ValueError, match=r"v<N>\.avsc"):
        load_family(Topic.REPLY, root=tmp_path)


def test_env_overrides_the_schema_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    monkeypatch.setenv(SCHEMAS_DIR_ENV, str(empty))
    with pytest.raises(FileNotFoundError, match=SCHEMAS_DIR_ENV):
        schemas_dir()
    monkeypatch.delenv(SCHEMAS_DIR_ENV)
    _copy_family(tmp_path, Topic.COMMAND, ["v1.avsc"])
    monkeypatch.setenv(SCHEMAS_DIR_ENV, str(tmp_path))
    assert schemas_dir() == tmp_path
    assert (
        load_family(Topic.COMMAND).versions[0].path.parent == tmp_path / "avro" / "thread_command"
    )


def test_missing_topic_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "avro").mkdir()
    with pytest.raises(FileNotFoundError, match="thread_event"):
        load_family(Topic.EVENT, root=tmp_path)
