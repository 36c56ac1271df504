"""Events, journal records and an in-memory DynamoDB client for the mirror's unit tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from pipeline.codec import encode_event
from pipeline.domain import AddedMessage, Event, MessagesAdded, ThreadCreated
from pipeline.kafka.records import Record
from pipeline.mirror.items import Item, Key, key_of
from tests.support.builders import ALICE, BOB, T0, ulid

TOPIC = "threadweaver.thread-events"


def event(thread: str, seq_nr: int, text: str = "hello", *, command: str | None = None) -> Event:
    body: ThreadCreated | MessagesAdded
    if seq_nr == 1:
        body = ThreadCreated(ALICE, "lunch", (ALICE,), (BOB,))
    else:
        body = MessagesAdded((AddedMessage(ulid(seq_nr + 50_000), text, None, ()),))
    return Event(
        event_id=ulid(seq_nr + 60_000),
        thread_id=thread,
        seq_nr=seq_nr,
        occurred_at=T0 + timedelta(seconds=seq_nr),
        command_id=command or ulid(seq_nr + 70_000),
        command_offset=seq_nr,
        sender_id=ALICE,
        body=body,
    )


def record(value: Event | bytes | None, offset: int, partition: int = 0) -> Record:
    raw = encode_event(value) if isinstance(value, Event) else value
    key = value.thread_id.encode() if isinstance(value, Event) else b"?"
    return Record(TOPIC, partition, offset, key, raw)


def client_error(code: str, operation: str, message: str = "test") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


# A fault hook sees (operation, request) and may raise, or return a response to use instead.
Hook = Callable[[str, dict[str, Any]], dict[str, Any] | None]


class FakeDynamoDB:
    """Just enough of the low-level client: one table, keys (thread_id, seq_nr)."""

    def __init__(self, table: str = "journal", hook: Hook | None = None) -> None:
        self.table = table
        self.items: dict[Key, Item] = {}
        self.calls: list[str] = []
        self.hook = hook
        self._lock = threading.Lock()

    def _enter(self, operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            self.calls.append(operation)
        return self.hook(operation, request) if self.hook else None

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        answer = self._enter("BatchGetItem", RequestItems)
        if answer is not None:
            return answer
        keys = RequestItems[self.table]["Keys"]
        found = [self.items[key_of(k)] for k in keys if key_of(k) in self.items]
        return {"Responses": {self.table: found}, "UnprocessedKeys": {}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        answer = self._enter("BatchWriteItem", RequestItems)
        if answer is not None:
            return answer
        for request in RequestItems[self.table]:
            item = request["PutRequest"]["Item"]
            self.items[key_of(item)] = item
        return {"UnprocessedItems": {}}

    def put_item(self, **request: Any) -> dict[str, Any]:
        answer = self._enter("PutItem", request)
        if answer is not None:
            return answer
        item = request["Item"]
        stored = self.items.get(key_of(item))
        if stored is not None and "ConditionExpression" in request:
            error = client_error("ConditionalCheckFailedException", "PutItem")
            if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                error.response["Item"] = stored
            raise error
        self.items[key_of(item)] = item
        return {}

    def get_item(self, **request: Any) -> dict[str, Any]:
        self._enter("GetItem", request)
        stored = self.items.get(key_of(request["Key"]))
        return {} if stored is None else {"Item": stored}

    def query(self, **request: Any) -> dict[str, Any]:
        self._enter("Query", request)
        values = request["ExpressionAttributeValues"]
        thread, first = values[":t"]["S"], int(values[":s"]["N"])
        keys = sorted(k for k in self.items if k[0] == thread and k[1] >= first)
        start = request.get("ExclusiveStartKey")
        if start is not None:
            keys = [k for k in keys if k > key_of(start)]
        page = keys[: request["Limit"]]
        response: dict[str, Any] = {"Items": [self.items[k] for k in page]}
        if len(keys) > len(page):
            response["LastEvaluatedKey"] = {
                "thread_id": {"S": page[-1][0]},
                "seq_nr": {"N": str(page[-1][1])},
            }
        return response

    def scan(self, **request: Any) -> dict[str, Any]:
        self._enter("Scan", request)
        keys = sorted(self.items)
        mine = [k for i, k in enumerate(keys) if i % request["TotalSegments"] == request["Segment"]]
        return {"Items": [self.items[k] for k in mine]}


class Letters:
    """Dead letters collected in memory."""

    def __init__(self) -> None:
        self.sent: list[tuple[Record, dict[str, bytes]]] = []
        self.flushes = 0

    def send(self, record: Record, headers: list[tuple[str, bytes]]) -> None:
        self.sent.append((record, dict(headers)))

    def flush(self, timeout: float = 30.0) -> None:
        self.flushes += 1
