"""Avro single-object encoding: 0xC3 0x01, the writer schema's 8-byte CRC-64-AVRO fingerprint
(little-endian), then the Avro binary body. Pure bytes <-> dict; no domain types here."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, Final

from fastavro import schemaless_reader, schemaless_writer

from pipeline.codec.errors import CodecError, describe
from pipeline.codec.schemas import AvroSchema, SchemaFamily

MAGIC: Final = b"\xc3\x01"
FINGERPRINT_SIZE: Final = 8
HEADER_SIZE: Final = len(MAGIC) + FINGERPRINT_SIZE


class WireCodec:
    """Frames for one topic family: writes the current version, reads every released one."""

    __slots__ = ("_header", "_readers", "_writer")

    def __init__(self, family: SchemaFamily) -> None:
        current = family.current
        self._header = MAGIC + current.fingerprint
        self._writer = current.parsed
        # Resolved once per fingerprint: (writer schema, reader schema). The reader is None when
        # the writer is the current schema, which skips fastavro's resolution work entirely.
        self._readers: dict[bytes, tuple[AvroSchema, AvroSchema | None]] = {
            fp: (version.parsed, None if fp == current.fingerprint else current.parsed)
            for fp, version in family.by_fingerprint.items()
        }

    @property
    def header(self) -> bytes:
        return self._header

    def encode(self, record: Mapping[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self._header)
        try:
            schemaless_writer(buffer, self._writer, record)
        except Exception as exc:  # fastavro signals bad values with many exception types
            raise CodecError(f"invalid value: {describe(exc)}") from exc
        return buffer.getvalue()

    def decode(self, data: object) -> dict[str, Any]:
        if not isinstance(data, bytes):
            if not isinstance(data, bytearray | memoryview):
                raise CodecError(f"not single-object encoding: got {type(data).__name__}")
            data = bytes(data)
        if len(data) < HEADER_SIZE or not data.startswith(MAGIC):
            raise CodecError(
                f"not single-object encoding: {len(data)} bytes starting {data[:2].hex()}"
            )
        fingerprint = data[len(MAGIC) : HEADER_SIZE]
        schemas = self._readers.get(fingerprint)
        if schemas is None:
            raise CodecError(f"unknown fingerprint {fingerprint.hex()}")
        writer, reader = schemas
        # BytesIO shares an immutable bytes buffer instead of copying it.
        buffer = io.BytesIO(data)
        buffer.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(buffer, writer, reader, return_record_name=True)
        except Exception as exc:  # truncation, bad varints, bad UTF-8, out-of-range dates...
            raise CodecError(f"corrupt body: {describe(exc)}") from exc
        trailing = len(data) - buffer.tell()
        if trailing:
            raise CodecError(f"corrupt body: {trailing} trailing bytes")
        if not isinstance(record, dict):
            raise CodecError(f"corrupt body: top level is {type(record).__name__}, not a record")
        return record
