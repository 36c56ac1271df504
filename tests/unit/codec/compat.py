"""Schema compatibility by experiment: write generated data with one schema, read it with
another through Avro schema resolution. Used for the BACKWARD_TRANSITIVE check."""

from __future__ import annotations

import copy
import io
import random
import string
from collections.abc import Callable
from typing import Any

import fastavro

from pipeline.codec import decode_command, decode_event, decode_reply, decode_snapshot
from pipeline.codec.schemas import Topic, load_family

# Adds v<N> of a topic's schema to the folder the codec reads (see conftest.release_version).
ReleaseVersion = Callable[[Topic, int, dict[str, Any]], None]

# The codec's decoder of each topic.
DECODERS: dict[Topic, Callable[[Any], object]] = {
    Topic.COMMAND: decode_command,
    Topic.EVENT: decode_event,
    Topic.REPLY: decode_reply,
    Topic.SNAPSHOT: decode_snapshot,
}
# The topics whose every well-typed datum is a valid value. Snapshots are not: message_senders
# index senders, so random data is mostly corrupt by design (test_snapshot.py checks their
# decoder with every reachable state instead).
ANY_DATUM_VALID = frozenset({Topic.COMMAND, Topic.EVENT, Topic.REPLY})

_TIMESTAMP_MILLIS_RANGE = (-62_135_596_800_000, 253_402_300_799_999)  # years 1..9999


def generate(schema: Any, rng: random.Random) -> Any:
    """One random datum for an expanded fastavro schema.

    Unlike fastavro.utils.generate_many, union branches that are records use the
    (name, record) tuple notation, so records with identical fields (JoinMemberIds and
    LeaveMemberIds...) are each really written, not all as the first branch that fits.
    """
    if isinstance(schema, list):
        branch = rng.choice(schema)
        value = generate(branch, rng)
        if isinstance(branch, dict) and branch.get("type") == "record":
            return (branch["name"], value)
        return value
    if isinstance(schema, str):
        return _primitive(schema, rng)
    kind = schema["type"]
    if schema.get("logicalType") == "timestamp-millis":
        return rng.randint(*_TIMESTAMP_MILLIS_RANGE)
    if isinstance(kind, list | dict):
        return generate(kind, rng)
    if kind == "record":
        return {field["name"]: generate(field["type"], rng) for field in schema["fields"]}
    if kind == "array":
        return [generate(schema["items"], rng) for _ in range(rng.randint(0, 3))]
    if kind == "map":
        return {_text(rng): generate(schema["values"], rng) for _ in range(rng.randint(0, 3))}
    if kind == "enum":
        return rng.choice(schema["symbols"])
    if kind == "fixed":
        return rng.randbytes(schema["size"])
    return _primitive(kind, rng)


def _text(rng: random.Random) -> str:
    alphabet = string.ascii_letters + "é✓😀"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def _primitive(kind: str, rng: random.Random) -> Any:
    if kind == "null":
        return None
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "int":
        return rng.randint(-(1 << 31), (1 << 31) - 1)
    if kind == "long":
        return rng.randint(-(1 << 63), (1 << 63) - 1)
    if kind in ("float", "double"):
        return rng.uniform(-1e6, 1e6)
    if kind == "bytes":
        return rng.randbytes(rng.randint(0, 8))
    if kind == "string":
        return _text(rng)
    raise ValueError(f"no generator for Avro type {kind!r}")


def generate_many(schema: dict[str, Any], count: int, seed: int = 0) -> list[Any]:
    expanded = fastavro.parse_schema(schema, expand=True)
    rng = random.Random(seed)
    return [generate(expanded, rng) for _ in range(count)]


def write(schema: dict[str, Any], datum: Any) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), datum)
    return buffer.getvalue()


def read_problems(
    writer: dict[str, Any], reader: dict[str, Any], samples: int = 300, seed: int = 0
) -> list[str]:
    """Why data written with `writer` cannot be read with `reader`; empty when it can."""
    parsed_writer = fastavro.parse_schema(writer)
    parsed_reader = fastavro.parse_schema(reader)
    problems: list[str] = []
    for datum in generate_many(writer, samples, seed):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed_writer, datum)
        buffer.seek(0)
        try:
            fastavro.schemaless_reader(buffer, parsed_writer, parsed_reader)
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
            if problem not in problems:
                problems.append(problem)
    return problems


def current_schema(topic: Topic) -> dict[str, Any]:
    return copy.deepcopy(load_family(topic).current.raw)


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)
