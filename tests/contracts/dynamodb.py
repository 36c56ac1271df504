"""The DynamoDB contract: the calls of the journal mirror (pipeline/mirror/writer.py), history
(pipeline/mirror/history.py) and verify's scan, as a real server answers them.

Every case uses the request shapes that code sends, on a fresh table defined like
schemas/dynamodb/journal-table.json (thread_id S hash key, seq_nr N range key). The answers
asserted are dynalite 4.0's (the embedded stack's server), which agree with DynamoDB's
documentation except where noted.

Subclass `DynamoDBContract` and supply the `harness` fixture.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, Protocol

import pytest
from botocore.exceptions import ClientError

Item = dict[str, dict[str, Any]]

# Every byte value, NULs at both ends: binary attributes must come back byte for byte.
PAYLOAD = b"\x00" + bytes(range(256)) + b"\x00"
# DynamoDB's item limit: 400 KB, attribute names included.
ITEM_LIMIT = 400 * 1024


class DynamoDBHarness(Protocol):
    @property
    def client(self) -> Any:
        """A low-level DynamoDB client (boto3's, or a stand-in)."""

    @property
    def table(self) -> str:
        """An empty table with the journal table's key schema."""


def item(thread: str, seq_nr: int, payload: bytes = PAYLOAD, **extra: dict[str, Any]) -> Item:
    """Shaped like the mirror's items: strings, numbers and the event's bytes."""
    return {
        "thread_id": {"S": thread},
        "seq_nr": {"N": str(seq_nr)},
        "event_type": {"S": "MessagesAdded"},
        "occurred_at": {"S": "2026-11-22T12:00:01.000Z"},
        "event": {"B": payload},
        "journal_offset": {"N": str(1000 + seq_nr)},
        **extra,
    }


def key(thread: str, seq_nr: int) -> Item:
    return {"thread_id": {"S": thread}, "seq_nr": {"N": str(seq_nr)}}


def body(response: dict[str, Any]) -> dict[str, Any]:
    """A response without the HTTP metadata a real client adds."""
    return {name: value for name, value in response.items() if name != "ResponseMetadata"}


def refusal(call: Callable[[], object]) -> tuple[str, str, dict[str, Any]]:
    """The error code, message and the rest of the answer of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    answer = body(caught.value.response)
    error = answer.pop("Error")
    answer.pop("message", None)  # the message again, as botocore parses modeled errors
    return error["Code"], error["Message"], answer


def seq_nrs(items: list[Item]) -> list[int]:
    return [int(i["seq_nr"]["N"]) for i in items]


class DynamoDBContract:
    @pytest.fixture
    def harness(self) -> DynamoDBHarness:
        raise NotImplementedError("a contract module supplies the server under test")

    # -- helpers over the harness ---------------------------------------------------------

    @staticmethod
    def put(harness: DynamoDBHarness, *items: Item) -> None:
        for one in items:
            harness.client.put_item(TableName=harness.table, Item=one)

    @staticmethod
    def get(harness: DynamoDBHarness, thread: str, seq_nr: int) -> Item | None:
        answer = harness.client.get_item(
            TableName=harness.table, Key=key(thread, seq_nr), ConsistentRead=True
        )
        return answer.get("Item")  # type: ignore[no-any-return]

    @staticmethod
    def put_if_absent(harness: DynamoDBHarness, one: Item) -> dict[str, Any]:
        """The writer's conditional write (writer.py `_put_if_absent`)."""
        return body(
            harness.client.put_item(
                TableName=harness.table,
                Item=one,
                ConditionExpression="attribute_not_exists(thread_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        )

    @staticmethod
    def query(
        harness: DynamoDBHarness, thread: str, from_seq: int, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        """history.py's Query, page by page."""
        request: dict[str, Any] = {
            "TableName": harness.table,
            "KeyConditionExpression": "#t = :t AND #s >= :s",
            "ExpressionAttributeNames": {"#t": "thread_id", "#s": "seq_nr"},
            "ExpressionAttributeValues": {":t": {"S": thread}, ":s": {"N": str(from_seq)}},
            "ConsistentRead": True,
        }
        if limit is not None:
            request["Limit"] = limit
        while True:
            page = body(harness.client.query(**request))
            yield page
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def scan_segment(
        harness: DynamoDBHarness, segment: int, segments: int, limit: int | None = None
    ) -> list[list[Item]]:
        """verify.py's parallel Scan of one segment, page by page."""
        request: dict[str, Any] = {
            "TableName": harness.table,
            "Segment": segment,
            "TotalSegments": segments,
            "ConsistentRead": True,
        }
        if limit is not None:
            request["Limit"] = limit
        pages = []
        while True:
            page = body(harness.client.scan(**request))
            pages.append(page["Items"])
            if "LastEvaluatedKey" not in page:
                return pages
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- PutItem and GetItem --------------------------------------------------------------

    def test_an_item_comes_back_as_written(self, harness: DynamoDBHarness) -> None:
        written = item("thread-a", 1, empty={"S": ""}, nothing={"B": b""})
        self.put(harness, written)
        stored = self.get(harness, "thread-a", 1)
        assert stored == written
        assert stored is not None
        assert type(stored["event"]["B"]) is bytes
        assert self.get(harness, "thread-a", 2) is None
        assert self.get(harness, "thread-absent", 1) is None

    def test_numbers_come_back_canonical(self, harness: DynamoDBHarness) -> None:
        self.put(harness, item("thread-n", 7, padded={"N": "007"}, fraction={"N": "1.50"}))
        stored = self.get(harness, "thread-n", 7)
        assert stored is not None
        assert (stored["padded"], stored["fraction"]) == ({"N": "7"}, {"N": "1.5"})

    def test_the_stored_item_is_a_copy(self, harness: DynamoDBHarness) -> None:
        written = item("thread-c", 1)
        self.put(harness, written)
        written["event_type"]["S"] = "changed after the write"
        stored = self.get(harness, "thread-c", 1)
        assert stored is not None
        assert stored["event_type"] == {"S": "MessagesAdded"}
        stored["event_type"]["S"] = "changed after the read"
        again = self.get(harness, "thread-c", 1)
        assert again is not None
        assert again["event_type"] == {"S": "MessagesAdded"}

    def test_an_unconditional_put_replaces_the_item(self, harness: DynamoDBHarness) -> None:
        self.put(harness, item("thread-r", 1, b"first"), item("thread-r", 1, b"second"))
        assert self.get(harness, "thread-r", 1) == item("thread-r", 1, b"second")

    def test_a_conditional_put_writes_a_free_key(self, harness: DynamoDBHarness) -> None:
        assert self.put_if_absent(harness, item("thread-f", 1)) == {}
        assert self.get(harness, "thread-f", 1) == item("thread-f", 1)

    def test_a_conditional_put_on_a_taken_key_fails_and_changes_nothing(
        self, harness: DynamoDBHarness
    ) -> None:
        self.put(harness, item("thread-t", 1, b"stored"))
        code, message, rest = refusal(
            lambda: self.put_if_absent(harness, item("thread-t", 1, b"another"))
        )
        assert (code, message) == (
            "ConditionalCheckFailedException",
            "The conditional request failed",
        )
        # DynamoDB returns the stored item here (ALL_OLD); dynalite does not, which is why
        # the writer falls back to a consistent GetItem.
        assert rest == {}
        assert self.get(harness, "thread-t", 1) == item("thread-t", 1, b"stored")

    def test_attribute_exists_fails_on_a_free_key(self, harness: DynamoDBHarness) -> None:
        code, _message, _rest = refusal(
            lambda: harness.client.put_item(
                TableName=harness.table,
                Item=item("thread-e", 1),
                ConditionExpression="attribute_exists(#t)",
                ExpressionAttributeNames={"#t": "thread_id"},
            )
        )
        assert code == "ConditionalCheckFailedException"
        assert self.get(harness, "thread-e", 1) is None

    # -- item and key limits --------------------------------------------------------------

    def test_an_item_of_400_kb_is_stored_and_one_byte_more_refused(
        self, harness: DynamoDBHarness
    ) -> None:
        # Names and values in bytes; the number 1 takes 2 bytes.
        overhead = len("thread_id") + len("t-big") + len("seq_nr") + 2 + len("event")

        def sized(extra: int) -> Item:
            return {**key("t-big", 1), "event": {"B": b"x" * (ITEM_LIMIT - overhead + extra)}}

        self.put(harness, sized(0))
        code, message, _ = refusal(lambda: self.put(harness, sized(1)))
        assert (code, message) == (
            "ValidationException",
            "Item size has exceeded the maximum allowed size",
        )
        code, message, _ = refusal(
            lambda: harness.client.batch_write_item(
                RequestItems={harness.table: [{"PutRequest": {"Item": sized(1)}}]}
            )
        )
        assert (code, message) == (
            "ValidationException",
            "Item size has exceeded the maximum allowed size",
        )
        stored = self.get(harness, "t-big", 1)
        assert stored is not None
        assert len(stored["event"]["B"]) == ITEM_LIMIT - overhead

    def test_keys_are_validated(self, harness: DynamoDBHarness) -> None:
        self.put(harness, item("t" * 2048, 1))  # the longest partition key DynamoDB takes
        assert self.get(harness, "t" * 2048, 1) is not None
        bad = [
            {"thread_id": {"S": "thread-k"}},
            {"thread_id": {"S": "thread-k"}, "seq_nr": {"S": "1"}},
            item("", 1),
            item("t" * 2049, 1),
        ]
        for one in bad:
            code, _message, _ = refusal(partial(self.put, harness, one))
            assert code == "ValidationException", one

    def test_a_missing_table_is_not_found(self, harness: DynamoDBHarness) -> None:
        missing = f"{harness.table}-missing"
        calls = [
            lambda: harness.client.put_item(TableName=missing, Item=item("thread-m", 1)),
            lambda: harness.client.batch_write_item(
                RequestItems={missing: [{"PutRequest": {"Item": item("thread-m", 1)}}]}
            ),
            lambda: harness.client.batch_get_item(
                RequestItems={missing: {"Keys": [key("thread-m", 1)]}}
            ),
            lambda: harness.client.get_item(TableName=missing, Key=key("thread-m", 1)),
            lambda: harness.client.query(
                TableName=missing,
                KeyConditionExpression="thread_id = :t",
                ExpressionAttributeValues={":t": {"S": "thread-m"}},
            ),
        ]
        for call in calls:
            code, message, _ = refusal(call)
            assert (code, message) == ("ResourceNotFoundException", "Requested resource not found")

    # -- BatchWriteItem and BatchGetItem --------------------------------------------------

    def test_a_batch_write_of_25_items_is_processed_whole(self, harness: DynamoDBHarness) -> None:
        items = [item("thread-w", seq) for seq in range(1, 26)]
        answer = harness.client.batch_write_item(
            RequestItems={harness.table: [{"PutRequest": {"Item": i}} for i in items]}
        )
        assert body(answer) == {"UnprocessedItems": {}}
        assert [self.get(harness, "thread-w", seq) for seq in range(1, 26)] == items

    def test_a_batch_write_over_25_items_or_with_a_key_twice_is_refused_whole(
        self, harness: DynamoDBHarness
    ) -> None:
        def write(items: list[Item]) -> object:
            return harness.client.batch_write_item(
                RequestItems={harness.table: [{"PutRequest": {"Item": i}} for i in items]}
            )

        code, _message, _ = refusal(lambda: write([item("thread-x", s) for s in range(1, 27)]))
        assert code == "ValidationException"
        twice = [item("thread-x", 1), item("thread-x", 2), item("thread-x", 1, b"again")]
        code, message, _ = refusal(lambda: write(twice))
        assert (code, message) == (
            "ValidationException",
            "Provided list of item keys contains duplicates",
        )
        assert self.get(harness, "thread-x", 1) is None
        assert self.get(harness, "thread-x", 2) is None

    def test_a_batch_get_answers_the_keys_it_found(self, harness: DynamoDBHarness) -> None:
        stored = [item("thread-g", seq) for seq in range(1, 4)]
        self.put(harness, *stored)
        keys = [key("thread-g", seq) for seq in (3, 1, 9)] + [key("thread-absent", 1)]
        answer = body(
            harness.client.batch_get_item(
                RequestItems={harness.table: {"Keys": keys, "ConsistentRead": True}}
            )
        )
        assert set(answer) == {"Responses", "UnprocessedKeys"}
        assert answer["UnprocessedKeys"] == {}
        found = answer["Responses"][harness.table]
        assert sorted(found, key=lambda i: int(i["seq_nr"]["N"])) == [stored[0], stored[2]]
        nothing = harness.client.batch_get_item(
            RequestItems={harness.table: {"Keys": [key("thread-absent", 1)]}}
        )
        assert body(nothing) == {"Responses": {harness.table: []}, "UnprocessedKeys": {}}

    def test_a_batch_get_over_100_keys_or_with_a_key_twice_is_refused(
        self, harness: DynamoDBHarness
    ) -> None:
        def get(keys: list[Item]) -> object:
            return harness.client.batch_get_item(RequestItems={harness.table: {"Keys": keys}})

        code, _message, _ = refusal(lambda: get([key("thread-y", s) for s in range(1, 102)]))
        assert code == "ValidationException"
        code, message, _ = refusal(lambda: get([key("thread-y", 1), key("thread-y", 1)]))
        assert (code, message) == (
            "ValidationException",
            "Provided list of item keys contains duplicates",
        )
        assert get([key("thread-y", s) for s in range(1, 101)]) is not None

    # -- Query ----------------------------------------------------------------------------

    def test_a_query_pages_a_thread_in_numeric_order(self, harness: DynamoDBHarness) -> None:
        # 1..12: numeric order is not text order (10 < 9 as text).
        self.put(harness, *(item("thread-q", seq) for seq in range(12, 0, -1)))
        self.put(harness, item("thread-q-other", 5), item("thread-p", 5))
        pages = list(self.query(harness, "thread-q", 3, limit=4))
        assert [seq_nrs(p["Items"]) for p in pages] == [
            [3, 4, 5, 6],
            [7, 8, 9, 10],
            [11, 12],
        ]
        assert pages[0]["LastEvaluatedKey"] == key("thread-q", 6)
        assert [(p["Count"], p["ScannedCount"]) for p in pages] == [(4, 4), (4, 4), (2, 2)]
        assert pages[0]["Items"][0] == item("thread-q", 3)

    def test_a_page_cut_at_its_limit_names_its_last_key_even_at_the_end(
        self, harness: DynamoDBHarness
    ) -> None:
        self.put(harness, *(item("thread-l", seq) for seq in range(1, 7)))
        pages = list(self.query(harness, "thread-l", 1, limit=3))
        assert [seq_nrs(p["Items"]) for p in pages] == [[1, 2, 3], [4, 5, 6], []]
        assert pages[1]["LastEvaluatedKey"] == key("thread-l", 6)

    def test_a_query_of_an_absent_thread_is_empty(self, harness: DynamoDBHarness) -> None:
        assert list(self.query(harness, "thread-absent", 1, limit=10)) == [
            {"Items": [], "Count": 0, "ScannedCount": 0}
        ]

    def test_a_query_without_a_limit_stops_a_page_at_1_mb(self, harness: DynamoDBHarness) -> None:
        large = os.urandom(300_000)
        self.put(harness, *(item("thread-big", seq, large) for seq in range(1, 9)))
        pages = list(self.query(harness, "thread-big", 1, limit=None))
        assert len(pages) > 1
        assert [s for p in pages for s in seq_nrs(p["Items"])] == list(range(1, 9))
        assert all(len(p["Items"]) * 300_000 < 2 * 1024 * 1024 for p in pages)

    # -- Scan -----------------------------------------------------------------------------

    def test_a_parallel_scan_reads_every_item_once(self, harness: DynamoDBHarness) -> None:
        written = [item(f"thread-{n:02d}", seq) for n in range(12) for seq in range(1, 4)]
        self.put(harness, *written)
        segments = [self.scan_segment(harness, s, 4, limit=2) for s in range(4)]
        found = [i for pages in segments for page in pages for i in page]
        assert sorted(found, key=lambda i: (i["thread_id"]["S"], int(i["seq_nr"]["N"]))) == (
            written
        )
        # The partition key decides the segment: a thread's items are never split.
        threads = [{i["thread_id"]["S"] for page in pages for i in page} for pages in segments]
        assert sum(len(t) for t in threads) == 12
        assert all(len(page) <= 2 for pages in segments for page in pages)

    def test_a_scan_stops_a_page_at_1_mb(self, harness: DynamoDBHarness) -> None:
        large = os.urandom(300_000)
        self.put(harness, *(item("thread-s", seq, large) for seq in range(1, 9)))
        pages = self.scan_segment(harness, 0, 1)
        assert len(pages) > 1
        assert [s for page in pages for s in seq_nrs(page)] == list(range(1, 9))
