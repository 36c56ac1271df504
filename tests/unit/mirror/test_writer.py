"""The DynamoDB I/O of the mirror against an in-memory client: retries, unprocessed items,
conditional writes, poison isolation, the retry deadline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from pipeline.codec import encode_event
from pipeline.mirror import metrics
from pipeline.mirror.items import Item, key_of, to_item
from pipeline.mirror.retry import Deadline, RetryDeadlineExceededError
from pipeline.mirror.writer import DynamoWriter, ItemError, RetryPolicy
from tests.support.builders import ulid
from tests.unit.mirror.support import FakeDynamoDB, client_error, event, refusing

pytestmark = pytest.mark.unit


def items(count: int, thread_base: int = 30_000) -> list[Item]:
    return [
        to_item(e, encode_event(e), 0, i)
        for i, e in enumerate(event(ulid(thread_base + n // 5), n % 5 + 1) for n in range(count))
    ]


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def writer(fake: FakeDynamoDB, sleeps: list[float]) -> Iterator[DynamoWriter]:
    w = DynamoWriter(
        fake,
        fake.table,
        RetryPolicy(max_attempts=3, base_s=0.01, cap_s=0.1),
        concurrency=3,
        rand=lambda: 1.0,
        sleep=sleeps.append,
    )
    yield w
    w.close()


def deadline() -> Deadline:
    return Deadline.after(60)


def counter(metric: Any, *labels: str) -> float:
    target = metric.labels(*labels) if labels else metric
    return float(target._value.get())


def test_batch_writes_in_chunks_of_25_and_reads_in_chunks_of_100(
    writer: DynamoWriter, fake: FakeDynamoDB
) -> None:
    batch = items(130)
    assert writer.stored([key_of(i) for i in batch], deadline()) == {}
    report = writer.put_batch(batch, deadline())
    assert (report.present, report.refused) == ({}, {})
    assert fake.calls.count("BatchGetItem") == 2
    assert fake.calls.count("BatchWriteItem") == 6
    assert fake.items == {key_of(i): i for i in batch}
    assert writer.stored([key_of(i) for i in batch], deadline()) == fake.items


def test_unprocessed_items_and_keys_are_retried_with_backoff(
    writer: DynamoWriter, fake: FakeDynamoDB, sleeps: list[float]
) -> None:
    batch = items(10)
    rounds = {"BatchWriteItem": 0, "BatchGetItem": 0}

    def hook(operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        rounds[operation] += 1
        if rounds[operation] > 2:
            return None
        if operation == "BatchWriteItem":
            # DynamoDB took the first item only.
            first, *rest = request[fake.table]
            fake.items[key_of(first["PutRequest"]["Item"])] = first["PutRequest"]["Item"]
            return {"UnprocessedItems": {fake.table: rest}}
        return {"Responses": {}, "UnprocessedKeys": request}

    fake.hook = hook
    before = counter(metrics.UNPROCESSED, "BatchWriteItem")
    writer.put_batch(batch, deadline())
    assert fake.items == {key_of(i): i for i in batch}
    assert counter(metrics.UNPROCESSED, "BatchWriteItem") - before == 9 + 8
    assert writer.stored([key_of(i) for i in batch], deadline()) == fake.items
    assert sleeps == [0.01, 0.02, 0.01, 0.02]


def test_throttling_and_network_errors_are_retried(
    writer: DynamoWriter, fake: FakeDynamoDB, sleeps: list[float]
) -> None:
    failures = [
        client_error("ProvisionedThroughputExceededException", "BatchWriteItem"),
        EndpointConnectionError(endpoint_url="http://nowhere"),
        client_error("InternalServerError", "BatchWriteItem"),
    ]

    def hook(operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if failures:
            raise failures.pop(0)
        return None

    fake.hook = hook
    throttles = counter(metrics.THROTTLES, "BatchWriteItem")
    writer.put_batch(items(3), deadline())
    assert len(fake.items) == 3
    assert sleeps == [0.01, 0.02, 0.04]
    assert counter(metrics.THROTTLES, "BatchWriteItem") - throttles == 1


# dynalite answers a failed condition without the stored item, AWS with it (when asked).
@pytest.mark.parametrize("old_item", [False, True], ids=["dynalite", "aws"])
def test_conditional_writes_report_what_is_stored(
    writer: DynamoWriter, fake: FakeDynamoDB, old_item: bool
) -> None:
    fake.old_item_on_condition_failure = old_item
    batch = items(4)
    stored_first = {**batch[0], "journal_offset": {"N": "77"}}
    fake.items[key_of(batch[0])] = stored_first
    report = writer.put_conditional(batch, deadline())
    assert report.present == {key_of(batch[0]): stored_first}
    assert fake.items[key_of(batch[0])] == stored_first  # never overwritten
    assert all(fake.items[key_of(i)] == i for i in batch[1:])
    assert fake.calls.count("GetItem") == (0 if old_item else 1)


def test_a_poison_item_is_isolated_and_refused_after_max_attempts(
    writer: DynamoWriter, fake: FakeDynamoDB, sleeps: list[float]
) -> None:
    batch = items(30)
    poison = batch[7] = {**batch[7], "command_id": {"S": "poison"}}

    def hook(operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if "'poison'" in repr(request):
            raise client_error("ValidationException", operation, "item too odd")
        return None

    fake.hook = hook
    report = writer.put_batch(batch, deadline())
    assert list(report.refused) == [key_of(poison)]
    assert "ValidationException" in report.refused[key_of(poison)]
    assert fake.items == {key_of(i): i for i in batch if i is not poison}
    assert fake.calls.count("PutItem") == 25 - 1 + 3  # the chunk item by item, poison thrice


def test_a_read_refused_for_its_keys_is_an_item_error(
    writer: DynamoWriter, fake: FakeDynamoDB
) -> None:
    fake.hook = refusing("ValidationException")
    with pytest.raises(ItemError):
        writer.stored([("T", 1)], deadline())


def test_transient_errors_past_the_deadline_stop_the_batch(
    writer: DynamoWriter, fake: FakeDynamoDB
) -> None:
    fake.hook = refusing("ResourceNotFoundException")
    with pytest.raises(RetryDeadlineExceededError):
        writer.put_batch(items(2), Deadline(0.0))
    assert fake.items == {}
