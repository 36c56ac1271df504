"""One batch end to end against in-memory DynamoDB and dead letters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.codec import encode_event
from pipeline.mirror.batch import BatchMirror, BatchOutcome
from pipeline.mirror.items import key_of, to_item
from pipeline.mirror.writer import DynamoWriter, RetryPolicy
from pipeline.settings import WriteMethod
from tests.support.builders import THREAD
from tests.unit.mirror.support import FakeDynamoDB, Letters, client_error, event, record, refusing

pytestmark = pytest.mark.unit


@pytest.fixture
def letters() -> Letters:
    return Letters()


@pytest.fixture(params=list(WriteMethod), ids=lambda m: m.value)
def mirror(
    request: pytest.FixtureRequest, fake: FakeDynamoDB, letters: Letters
) -> Iterator[BatchMirror]:
    writer = DynamoWriter(
        fake, fake.table, RetryPolicy(max_attempts=2, base_s=0, cap_s=0), 2, sleep=lambda _s: None
    )
    yield BatchMirror(writer, letters, request.param, retry_deadline_s=60)
    writer.close()


def test_a_batch_with_everything_in_it(
    mirror: BatchMirror, fake: FakeDynamoDB, letters: Letters
) -> None:
    original, rewritten = event(THREAD, 2, "original"), event(THREAD, 2, "rewritten")
    fake.items[(THREAD, 2)] = to_item(original, encode_event(original), 0, 3)
    journal = [
        record(event(THREAD, 1), 10),
        record(event(THREAD, 1), 11),  # an identical re-append
        record(b"\x00garbage", 12),
        record(original, 13),  # stored already (a restart re-reads it)
        record(rewritten, 14),  # a different event at seq_nr 2
        record(event(THREAD, 3), 15),
    ]
    outcome = mirror.process(journal)
    assert outcome == BatchOutcome(records=6, written=2, duplicates=2, conflicts=1, dead_letters=1)
    assert fake.items[(THREAD, 2)] == to_item(original, encode_event(original), 0, 3)
    assert set(fake.items) == {(THREAD, 1), (THREAD, 2), (THREAD, 3)}
    assert fake.items[(THREAD, 1)]["journal_offset"] == {"N": "10"}
    assert letters.flushes == 1
    (garbage, g_headers), (conflict, c_headers) = letters.sent
    assert garbage.offset == 12
    assert g_headers["threadweaver-dlq-reason"] == b"UNDECODABLE"
    assert conflict.value == encode_event(rewritten)
    assert c_headers["threadweaver-dlq-reason"] == b"CONFLICT"
    assert c_headers["threadweaver-source-offset"] == b"14"
    assert c_headers["threadweaver-stored-event-id"] == original.event_id.encode()
    assert c_headers["threadweaver-stored-offset"] == b"3"
    assert original.event_id.encode() in c_headers["threadweaver-dlq-error"]


def test_mirroring_a_batch_again_changes_nothing(
    mirror: BatchMirror, fake: FakeDynamoDB, letters: Letters
) -> None:
    journal = [record(event(THREAD, s), s) for s in range(1, 6)]
    assert mirror.process(journal).written == 5
    before = dict(fake.items)
    again = mirror.process(journal)
    assert (again.written, again.duplicates) == (0, 5)
    assert fake.items == before
    assert letters.sent == []


def test_a_refused_item_is_dead_lettered_and_the_rest_written(
    mirror: BatchMirror, fake: FakeDynamoDB, letters: Letters
) -> None:
    poison = event(THREAD, 2, "poison")

    def hook(operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if operation in ("BatchWriteItem", "PutItem") and poison.event_id in repr(request):
            raise client_error("ValidationException", operation)
        return None

    fake.hook = hook
    outcome = mirror.process([record(event(THREAD, 1), 0), record(poison, 1)])
    assert (outcome.written, outcome.dead_letters) == (1, 1)
    assert set(fake.items) == {(THREAD, 1)}
    ((dead, headers),) = letters.sent
    assert dead.value == encode_event(poison)
    assert headers["threadweaver-dlq-reason"] == b"REJECTED"


def test_a_refused_lookup_falls_back_to_conditional_writes(
    fake: FakeDynamoDB, letters: Letters
) -> None:
    fake.hook = refusing("ValidationException", "BatchGetItem")
    writer = DynamoWriter(fake, fake.table, RetryPolicy(), 1, sleep=lambda _s: None)
    mirror = BatchMirror(writer, letters, WriteMethod.BATCH, retry_deadline_s=60)
    stored = event(THREAD, 1, "x")
    fake.items[(THREAD, 1)] = to_item(stored, encode_event(stored), 0, 0)
    outcome = mirror.process([record(stored, 5), record(event(THREAD, 2), 6)])
    writer.close()
    assert (outcome.written, outcome.duplicates) == (1, 1)
    assert "BatchWriteItem" not in fake.calls
    assert key_of(fake.items[(THREAD, 2)]) == (THREAD, 2)
