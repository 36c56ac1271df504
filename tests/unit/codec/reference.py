"""Independent reference implementations from the Avro specification, to check the codec
against something other than fastavro: the CRC-64-AVRO (Rabin) fingerprint and the Parsing
Canonical Form."""

from __future__ import annotations

import json
from typing import Any, Final

# From the spec's "Schema Fingerprints" section (Java reference code, transcribed).
_EMPTY: Final = 0xC15D213AA4D7A795
_MASK: Final = (1 << 64) - 1


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp & _MASK)
    return table


_TABLE: Final = _table()


def rabin64(data: bytes) -> int:
    """The unsigned 64-bit CRC-64-AVRO value (the spec's `long`, as unsigned)."""
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def signed(value: int) -> int:
    """Java's view of a 64-bit value, as the spec's test vectors print it."""
    return value - (1 << 64) if value >= 1 << 63 else value


_PRIMITIVES: Final = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_KEPT: Final = ("name", "type", "fields", "symbols", "items", "values", "size")


def canonical_form(schema: Any, namespace: str = "") -> str:
    """Parsing Canonical Form ([PRIMITIVES], [FULLNAMES], [STRIP], [ORDER], [WHITESPACE])."""
    return _canonical(schema, namespace)


def _fullname(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _canonical(schema: Any, namespace: str) -> str:
    if isinstance(schema, str):
        return json.dumps(schema if schema in _PRIMITIVES else _fullname(schema, namespace))
    if isinstance(schema, list):
        return "[" + ",".join(_canonical(branch, namespace) for branch in schema) + "]"
    kind = schema["type"]
    if kind in _PRIMITIVES or not isinstance(kind, str):
        return _canonical(kind, namespace)  # e.g. {"type": "long", "logicalType": ...}
    parts = []
    if "name" in schema:
        fullname = _fullname(schema["name"], schema.get("namespace", namespace))
        parts.append(f'"name":{json.dumps(fullname)}')
        namespace = fullname.rpartition(".")[0]
    parts.append(f'"type":{json.dumps(kind)}')
    for key in _KEPT[2:]:
        if key not in schema:
            continue
        value = schema[key]
        if key == "fields":
            rendered = ",".join(
                f'{{"name":{json.dumps(f["name"])},"type":{_canonical(f["type"], namespace)}}}'
                for f in value
            )
            parts.append(f'"fields":[{rendered}]')
        elif key in ("items", "values"):
            parts.append(f'"{key}":{_canonical(value, namespace)}')
        else:
            parts.append(f'"{key}":{json.dumps(value, separators=(",", ":"))}')
    return "{" + ",".join(parts) + "}"
