"""BACKWARD_TRANSITIVE: the current reader schema reads data written with every released
version; and the check itself is shown to catch an incompatible version."""

from __future__ import annotations

import copy
import io
from typing import Any

import fastavro
import pytest

from pipeline.codec import Topic, decode_command, encode_command
from pipeline.codec.schemas import SchemaVersion, load_family
from pipeline.codec.wire import HEADER_SIZE, MAGIC
from pipeline.domain.commands import AddMessages, NewMessage
from tests.unit.codec import strategies as s
from tests.unit.codec.compat import (
    ANY_DATUM_VALID,
    DECODERS,
    ReleaseVersion,
    current_schema,
    field,
    generate_many,
    read_problems,
    write,
)

pytestmark = pytest.mark.unit

RELEASED = [
    pytest.param(version, id=f"{topic.value}/v{version.version}")
    for topic in Topic
    for version in load_family(topic).versions
]


@pytest.mark.parametrize("writer", RELEASED)
def test_current_schema_reads_every_released_version(writer: SchemaVersion) -> None:
    current = load_family(writer.topic).current
    assert read_problems(writer.raw, current.raw) == []


@pytest.mark.parametrize("writer", [p for p in RELEASED if p.values[0].topic in ANY_DATUM_VALID])
def test_decoder_reads_frames_of_every_released_version(writer: SchemaVersion) -> None:
    # Through the real codec: fingerprint lookup, resolution, mapping to domain objects.
    decode = DECODERS[writer.topic]
    seen: set[str] = set()
    for datum in generate_many(writer.raw, 200, seed=writer.version):
        decoded = decode(MAGIC + writer.fingerprint + write(writer.raw, datum))
        seen.add(type(getattr(decoded, "body", decoded)).__name__)
    payload = next(f for f in writer.raw["fields"] if f["name"] == "payload")
    assert seen == {branch["name"] for branch in payload["type"]}, "every branch exercised"


def _incompatible_versions(current: dict[str, Any]) -> dict[str, dict[str, Any]]:
    required = copy.deepcopy(current)
    required["fields"].append({"name": "priority", "type": "int", "doc": "no default"})
    fewer_branches = copy.deepcopy(current)
    field(fewer_branches, "payload")["type"].pop()
    retyped = copy.deepcopy(current)
    field(retyped, "payload")["type"][0]["fields"].insert(
        0, {"name": "tag", "type": "string", "doc": "no default"}
    )
    return {
        "new required field": required,
        "removed union branch": fewer_branches,
        "new required field in a body": retyped,
    }


@pytest.mark.parametrize("topic", list(Topic))
@pytest.mark.parametrize(
    "change", ["new required field", "removed union branch", "new required field in a body"]
)
def test_the_check_detects_an_incompatible_v2(topic: Topic, change: str) -> None:
    current = load_family(topic).current.raw
    incompatible_v2 = _incompatible_versions(current)[change]
    assert read_problems(current, incompatible_v2) != []


@pytest.mark.parametrize("topic", list(Topic))
def test_the_check_accepts_a_compatible_v2(topic: Topic) -> None:
    # The positive control: a new optional field with a default is a legal evolution.
    v2 = copy.deepcopy(load_family(topic).current.raw)
    v2["fields"].append(
        {"name": "trace_id", "type": ["null", "string"], "default": None, "doc": "optional"}
    )
    assert read_problems(load_family(topic).current.raw, v2) == []


def test_a_new_rejection_reason_reads_as_invalid_command_for_old_readers() -> None:
    reader = load_family(Topic.REPLY).current.raw
    writer = copy.deepcopy(reader)
    reason = field(field(writer, "payload")["type"][1], "reason")["type"]
    reason["symbols"].append("SOMETHING_NEW")
    datum = {
        "payload": (
            "threadweaver.v1.CommandRejected",
            {"command_id": "c", "thread_id": "t", "reason": "SOMETHING_NEW", "message": "m"},
        )
    }
    body = io.BytesIO(write(writer, datum))
    record: Any = fastavro.schemaless_reader(
        body, fastavro.parse_schema(writer), fastavro.parse_schema(reader), return_record_name=True
    )
    assert record["payload"][1]["reason"] == "INVALID_COMMAND"


def test_after_a_compatible_v2_old_frames_still_decode(release_version: ReleaseVersion) -> None:
    """End to end: v1 frames take the resolution path, new frames are written with v2."""
    old_frames = {body: encode_command(s.command_with(body)) for body in s.COMMAND_BODY_EXAMPLES}
    v1 = load_family(Topic.COMMAND).current
    v2 = current_schema(Topic.COMMAND)
    add_messages = next(b for b in field(v2, "payload")["type"] if b["name"] == "AddMessages")
    field(add_messages, "messages")["type"]["items"]["fields"].append(
        {"name": "format", "type": "string", "default": "plain", "doc": "a later addition"}
    )
    v2["fields"].append(
        {"name": "trace_id", "type": ["null", "string"], "default": None, "doc": "added in v2"}
    )
    release_version(Topic.COMMAND, 2, v2)

    for body, frame in old_frames.items():
        assert frame[2:HEADER_SIZE] == v1.fingerprint
        assert decode_command(frame) == s.command_with(body)
    command = s.command_with(AddMessages((NewMessage(s.M1, "hi", s.M2, (s.BOB,)),)))
    new_frame = encode_command(command)  # the mapping knows nothing of v2's new fields
    assert new_frame[2:HEADER_SIZE] == load_family(Topic.COMMAND).current.fingerprint
    assert new_frame[2:HEADER_SIZE] != v1.fingerprint
    assert decode_command(new_frame) == command
