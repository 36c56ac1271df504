"""A dead letter says why and where from, and no record can forge that (every component)."""

from __future__ import annotations

import pytest

from pipeline.kafka.dead_letters import (
    ERROR_HEADER,
    ERROR_MAX_BYTES,
    REASON_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
    dead_letter_headers,
)
from pipeline.kafka.records import Record
from pipeline.kafka.replies import REPLY_PARTITION_HEADER
from pipeline.mirror.records import STORED_EVENT_ID_HEADER, DeadLetterReason
from pipeline.mirror.records import dead_letter_headers as mirror_headers
from pipeline.projector.processor import APPLIED_EVENT_ID_HEADER, DeadLetter

pytestmark = pytest.mark.unit

# What a producer could put on any record it writes.
FORGED = (
    (REASON_HEADER, b"NOTHING_WRONG"),
    (ERROR_HEADER, b"all fine"),
    (SOURCE_TOPIC_HEADER, b"elsewhere"),
    (SOURCE_PARTITION_HEADER, b"99"),
    (SOURCE_OFFSET_HEADER, b"12345"),
    (STORED_EVENT_ID_HEADER, b"01FORGEDEVENT"),
    (APPLIED_EVENT_ID_HEADER, b"01FORGEDEVENT"),
    ("x-trace", b"kept"),
)


def by_name(headers: list[tuple[str, bytes]]) -> dict[str, list[bytes]]:
    found: dict[str, list[bytes]] = {}
    for name, value in headers:
        found.setdefault(name, []).append(value)
    return found


def assert_ours(headers: list[tuple[str, bytes]], reason: bytes, topic: bytes) -> None:
    found = by_name(headers)
    assert found[REASON_HEADER] == [reason]
    assert found[SOURCE_TOPIC_HEADER] == [topic]
    assert found[SOURCE_PARTITION_HEADER] == [b"2"]
    assert found[SOURCE_OFFSET_HEADER] == [b"41"]
    assert len(found[ERROR_HEADER]) == 1
    assert found["x-trace"] == [b"kept"]


def test_the_builder_keeps_foreign_headers_and_caps_the_error() -> None:
    headers = dead_letter_headers(
        topic="t",
        partition=2,
        offset=41,
        headers=FORGED,
        reason="UNDECODABLE",
        error="é" * ERROR_MAX_BYTES,
        extra=[("threadweaver-evidence", b"e")],
    )
    assert_ours(headers, b"UNDECODABLE", b"t")
    found = by_name(headers)
    assert len(found[ERROR_HEADER][0]) == ERROR_MAX_BYTES
    assert found["threadweaver-evidence"] == [b"e"]


def test_the_worker_strips_forged_headers() -> None:
    record = Record(
        "threadweaver.thread-commands", 2, 41, b"k", b"v", (*FORGED, (REPLY_PARTITION_HEADER, b"3"))
    )
    headers = record.dead_letter_headers("UNDECODABLE", "bad frame")
    assert_ours(headers, b"UNDECODABLE", b"threadweaver.thread-commands")
    assert by_name(headers)[REPLY_PARTITION_HEADER] == [b"3"]


def test_the_mirror_strips_forged_headers_and_forged_evidence() -> None:
    record = Record("threadweaver.thread-events", 2, 41, b"k", b"v", FORGED)
    headers = mirror_headers(
        record, DeadLetterReason.CONFLICT, "another event", ((STORED_EVENT_ID_HEADER, "01REAL"),)
    )
    assert_ours(headers, b"CONFLICT", b"threadweaver.thread-events")
    assert by_name(headers)[STORED_EVENT_ID_HEADER] == [b"01REAL"]


def test_the_projector_strips_forged_headers_and_forged_evidence() -> None:
    record = Record("threadweaver.thread-events", 2, 41, b"k", b"v", FORGED)
    letter = DeadLetter(
        record, "CONFLICT", "another event", ((APPLIED_EVENT_ID_HEADER, b"01REAL"),)
    )
    headers = letter.headers()
    assert_ours(headers, b"CONFLICT", b"threadweaver.thread-events")
    assert by_name(headers)[APPLIED_EVENT_ID_HEADER] == [b"01REAL"]
