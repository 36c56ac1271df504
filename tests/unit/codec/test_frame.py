"""The single-object frame: magic, little-endian CRC-64-AVRO fingerprint, Avro body."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
import pytest

from pipeline.codec import Topic, encode_command, encode_event, encode_reply, wire_codec
from pipeline.codec.mapping import command_to_record
from pipeline.codec.schemas import fingerprint64, load_family
from pipeline.codec.wire import HEADER_SIZE, MAGIC
from pipeline.domain.commands import AddMessages, NewMessage
from tests.unit.codec import strategies as s
from tests.unit.codec.reference import canonical_form, rabin64, signed

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        # apache/avro share/test/data/schema-tests.txt (printed as Java signed longs).
        ('"null"', 7195948357588979594),
        ('"int"', 8247732601305521295),
        ('{"name":"foo","type":"record","fields":[]}', -4824392279771201922),
    ],
)
def test_reference_rabin_matches_the_spec_vectors(schema: str, expected: int) -> None:
    assert signed(rabin64(schema.encode())) == expected


def test_wire_fingerprint_is_little_endian() -> None:
    # The spec's value for "int" is 0x7275d51a3f395c8f; Avro's own single-object header test
    # (lang/ruby test_fingerprints.rb) expects C3 01 8F 5C 39 3F 1A D5 75 72.
    assert rabin64(b'"int"') == 0x7275D51A3F395C8F
    assert fingerprint64('"int"') == bytes.fromhex("8f5c393f1ad57572")
    assert fingerprint64('"int"') == rabin64(b'"int"').to_bytes(8, "little")


@pytest.mark.parametrize("topic", list(Topic))
def test_canonical_form_and_fingerprint_match_the_reference(topic: Topic) -> None:
    for version in load_family(topic).versions:
        raw = json.loads(version.path.read_text(encoding="utf-8"))
        assert version.canonical_form == canonical_form(raw)
        expected = rabin64(canonical_form(raw).encode()).to_bytes(8, "little")
        assert version.fingerprint == expected


@pytest.mark.parametrize(
    ("topic", "frame"),
    [
        (Topic.COMMAND, encode_command(s.command_with(s.COMMAND_BODY_EXAMPLES[0]))),
        (Topic.EVENT, encode_event(s.event_with(s.EVENT_BODY_EXAMPLES[0]))),
        (Topic.REPLY, encode_reply(s.REPLY_EXAMPLES[0])),
    ],
)
def test_frame_header_names_the_current_schema(topic: Topic, frame: bytes) -> None:
    current = load_family(topic).current
    assert frame[:2] == b"\xc3\x01" == MAGIC
    assert frame[2:HEADER_SIZE] == rabin64(current.canonical_form.encode()).to_bytes(8, "little")
    assert wire_codec(topic).header == frame[:HEADER_SIZE]


def test_body_is_plain_avro_binary_of_the_current_schema() -> None:
    command = s.command_with(AddMessages((NewMessage(s.M1, "hi", s.M2, (s.BOB,)),)))
    frame = encode_command(command)
    current = load_family(Topic.COMMAND).current
    expected = io.BytesIO()
    fastavro.schemaless_writer(expected, current.parsed, command_to_record(command))
    assert frame[HEADER_SIZE:] == expected.getvalue()
    # And any Avro library can read it back with the file's schema alone.
    record: Any = fastavro.schemaless_reader(
        io.BytesIO(frame[HEADER_SIZE:]), fastavro.parse_schema(current.raw), None
    )
    assert record["payload"]["messages"][0]["text"] == "hi"
