"""Events, journal records and an in-memory DynamoDB client for the mirror's unit tests."""

from __future__ import annotations

import copy
import operator
import re
import threading
import zlib
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from pipeline.codec import encode_event
from pipeline.domain import AddedMessage, Event, MessagesAdded, ThreadCreated
from pipeline.kafka.records import Record
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


def client_error(
    code: str, operation: str, message: str = "test", extra: dict[str, Any] | None = None
) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, **(extra or {})}, operation)


# A fault hook sees (operation, request) and may raise, or return a response to use instead.
Hook = Callable[[str, dict[str, Any]], dict[str, Any] | None]


def refusing(code: str, *operations: str) -> Hook:
    """A hook that refuses the calls of `operations` (all calls if none) with error `code`."""

    def hook(operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if operations and operation not in operations:
            return None
        raise client_error(code, operation)

    return hook


Item = dict[str, dict[str, Any]]
Key = tuple[str, int]

# The table of schemas/dynamodb/journal-table.json.
HASH_KEY, RANGE_KEY = "thread_id", "seq_nr"
# DynamoDB's limits, which dynalite enforces too (tests/contracts/dynamodb.py).
ITEM_BYTES_MAX = 409_600
HASH_KEY_BYTES_MAX = 2048
BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100
PAGE_BYTES = 1024 * 1024
# dynalite splits a parallel Scan by the hash of the partition key into this many buckets.
HASH_BUCKETS = 4096
CONDITION = re.compile(r"\s*(attribute_exists|attribute_not_exists)\s*\(\s*(#?\w+)\s*\)\s*")
KEY_CONDITION = re.compile(
    r"\s*(?P<hash>#?\w+)\s*=\s*(?P<hash_value>:\w+)"
    r"(?:\s+AND\s+(?P<range>#?\w+)\s*(?:(?P<op><=|>=|<|>|=)\s*(?P<value>:\w+)"
    r"|BETWEEN\s+(?P<low>:\w+)\s+AND\s+(?P<high>:\w+)))?\s*",
    re.IGNORECASE,
)
COMPARE: dict[str, Callable[[int, int], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def validation_error(operation: str, message: str) -> ClientError:
    return client_error("ValidationException", operation, message)


def canonical_number(text: str) -> str:
    """A number as DynamoDB gives it back: no leading or trailing zeros, no exponent."""
    number = Decimal(text)
    return "0" if number == 0 else format(number.normalize(), "f")


def number_size(text: str) -> int:
    """dynalite's size of a number: about one byte per two significant digits, plus one."""
    number = Decimal(text).normalize()
    if number == 0:
        return 1
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    count = len(digits)
    leading = exponent + count - 1  # the power of ten of the first digit
    return 1 + -(-count // 2) + (0 if count % 2 or leading % 2 else 1) + sign


def item_size(item: Item) -> int:
    """DynamoDB's item size: names and strings in UTF-8, binary lengths, numbers as above."""
    total = 0
    for name, value in item.items():
        ((kind, content),) = value.items()
        total += len(name.encode())
        match kind:
            case "S":
                total += len(content.encode())
            case "B":
                total += len(content)
            case "N":
                total += number_size(content)
            case _:
                raise NotImplementedError(f"FakeDynamoDB has no size rule for {kind}")
    return total


class FakeDynamoDB:
    """The low-level client's calls the mirror and history make, on one table keyed
    (thread_id S, seq_nr N), behaving as dynalite does (tests/contracts/dynamodb.py).

    `old_item_on_condition_failure`: AWS returns the stored item with a failed condition
    when asked (ReturnValuesOnConditionCheckFailure=ALL_OLD); dynalite 4.0 does not.
    """

    def __init__(
        self,
        table: str = "journal",
        hook: Hook | None = None,
        *,
        old_item_on_condition_failure: bool = False,
    ) -> None:
        self.table = table
        self.items: dict[Key, Item] = {}
        self.calls: list[str] = []
        self.hook = hook
        self.old_item_on_condition_failure = old_item_on_condition_failure
        self._lock = threading.Lock()

    def _enter(self, operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            self.calls.append(operation)
        return self.hook(operation, request) if self.hook else None

    # -- the table's rules ----------------------------------------------------------------

    def _check_table(self, name: str, operation: str) -> None:
        if name != self.table:
            raise client_error(
                "ResourceNotFoundException",
                operation,
                "Requested resource not found",
                {"message": "Requested resource not found"},
            )

    @staticmethod
    def _key(attributes: Item, operation: str, what: str = "item") -> Key:
        for name, kind in ((HASH_KEY, "S"), (RANGE_KEY, "N")):
            value = attributes.get(name)
            if value is None:
                raise validation_error(
                    operation,
                    f"One or more parameter values were invalid: Missing the key {name} in the "
                    f"{what}",
                )
            if kind not in value:
                raise validation_error(
                    operation,
                    "One or more parameter values were invalid: Type mismatch for key "
                    f"{name} expected: {kind} actual: {next(iter(value))}",
                )
        thread = attributes[HASH_KEY]["S"]
        if thread == "":
            raise validation_error(
                operation,
                "One or more parameter values are not valid. The AttributeValue for a key "
                f"attribute cannot contain an empty string value. Key: {HASH_KEY}",
            )
        if len(thread.encode()) > HASH_KEY_BYTES_MAX:
            raise validation_error(
                operation,
                "One or more parameter values were invalid: Size of hashkey has exceeded the "
                "maximum size limit of2048 bytes",
            )
        return thread, int(Decimal(attributes[RANGE_KEY]["N"]))

    def _stored_form(self, item: Item, operation: str) -> tuple[Key, Item]:
        """The key and the copy the table keeps (numbers canonical), or the server's refusal."""
        key = self._key(item, operation)
        if item_size(item) > ITEM_BYTES_MAX:
            raise validation_error(operation, "Item size has exceeded the maximum allowed size")
        stored = copy.deepcopy(item)
        for value in stored.values():
            if "N" in value:
                value["N"] = canonical_number(value["N"])
            if "B" in value:
                value["B"] = bytes(value["B"])
        return key, stored

    def _page(
        self,
        keys: list[Key],
        limit: int | None,
        response: dict[str, Any],
    ) -> dict[str, Any]:
        """Items of `keys` up to `limit` or 1 MiB, with the key to go on from if cut there."""
        page: list[Item] = []
        size = 0
        for key in keys:
            if (limit is not None and len(page) >= limit) or size >= PAGE_BYTES:
                break
            item = self.items[key]
            page.append(copy.deepcopy(item))
            size += item_size(item)
        response.update(Items=page, Count=len(page), ScannedCount=len(page))
        # Like DynamoDB, a page cut by its limit names its last key even when nothing follows.
        if page and ((limit is not None and len(page) >= limit) or size >= PAGE_BYTES):
            last = page[-1]
            response["LastEvaluatedKey"] = {HASH_KEY: last[HASH_KEY], RANGE_KEY: last[RANGE_KEY]}
        return response

    # -- the calls ------------------------------------------------------------------------

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        answer = self._enter("BatchGetItem", RequestItems)
        if answer is not None:
            return answer
        operation = "BatchGetItem"
        for table in RequestItems:
            self._check_table(table, operation)
        keys = RequestItems[self.table]["Keys"]
        if len(keys) > BATCH_GET_MAX:
            raise validation_error(
                operation,
                "1 validation error detected: Member must have length less than or equal to "
                f"{BATCH_GET_MAX}",
            )
        wanted = [self._key(k, operation, "key") for k in keys]
        if len(set(wanted)) != len(wanted):
            raise validation_error(operation, "Provided list of item keys contains duplicates")
        found = [copy.deepcopy(self.items[k]) for k in wanted if k in self.items]
        return {"Responses": {self.table: found}, "UnprocessedKeys": {}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        answer = self._enter("BatchWriteItem", RequestItems)
        if answer is not None:
            return answer
        operation = "BatchWriteItem"
        for table in RequestItems:
            self._check_table(table, operation)
        requests = RequestItems[self.table]
        if not 1 <= len(requests) <= BATCH_WRITE_MAX:
            raise validation_error(
                operation,
                "1 validation error detected: Member must have length less than or equal to "
                f"{BATCH_WRITE_MAX}, Member must have length greater than or equal to 1",
            )
        if any("PutRequest" not in r for r in requests):
            raise NotImplementedError("FakeDynamoDB writes PutRequests only")
        # The whole request is refused if any item is: nothing is written.
        writes = [self._stored_form(r["PutRequest"]["Item"], operation) for r in requests]
        if len({key for key, _ in writes}) != len(writes):
            raise validation_error(operation, "Provided list of item keys contains duplicates")
        with self._lock:
            self.items.update(writes)
        return {"UnprocessedItems": {}}

    def put_item(self, **request: Any) -> dict[str, Any]:
        answer = self._enter("PutItem", request)
        if answer is not None:
            return answer
        operation = "PutItem"
        self._check_table(request["TableName"], operation)
        key, item = self._stored_form(request["Item"], operation)
        with self._lock:
            stored = self.items.get(key)
            condition = request.get("ConditionExpression")
            if condition is not None and not self._holds(condition, request, stored):
                message = "The conditional request failed"
                extra: dict[str, Any] = {"message": message}
                asked = request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                if asked and stored is not None and self.old_item_on_condition_failure:
                    extra["Item"] = copy.deepcopy(stored)
                raise client_error("ConditionalCheckFailedException", operation, message, extra)
            self.items[key] = item
        return {}

    @staticmethod
    def _holds(condition: str, request: dict[str, Any], stored: Item | None) -> bool:
        match = CONDITION.fullmatch(condition)
        if match is None:
            raise NotImplementedError(f"FakeDynamoDB cannot evaluate {condition!r}")
        function, name = match.groups()
        name = request.get("ExpressionAttributeNames", {}).get(name, name)
        exists = stored is not None and name in stored
        return exists if function == "attribute_exists" else not exists

    def get_item(self, **request: Any) -> dict[str, Any]:
        answer = self._enter("GetItem", request)
        if answer is not None:
            return answer
        self._check_table(request["TableName"], "GetItem")
        stored = self.items.get(self._key(request["Key"], "GetItem", "key"))
        return {} if stored is None else {"Item": copy.deepcopy(stored)}

    def query(self, **request: Any) -> dict[str, Any]:
        answer = self._enter("Query", request)
        if answer is not None:
            return answer
        operation = "Query"
        self._check_table(request["TableName"], operation)
        match = KEY_CONDITION.fullmatch(request["KeyConditionExpression"])
        if match is None:
            raise NotImplementedError(
                f"FakeDynamoDB cannot evaluate {request['KeyConditionExpression']!r}"
            )
        names = request.get("ExpressionAttributeNames", {})
        values = request.get("ExpressionAttributeValues", {})
        if names.get(match["hash"], match["hash"]) != HASH_KEY or (
            match["range"] and names.get(match["range"], match["range"]) != RANGE_KEY
        ):
            raise validation_error(operation, "Query condition missed key schema element")
        thread = values[match["hash_value"]]["S"]

        def number(name: str) -> int:
            return int(Decimal(values[name]["N"]))

        def wanted(seq_nr: int) -> bool:
            if match["op"]:
                return COMPARE[match["op"]](seq_nr, number(match["value"]))
            if match["low"]:
                return number(match["low"]) <= seq_nr <= number(match["high"])
            return True

        forward = request.get("ScanIndexForward", True)
        keys = sorted(
            (k for k in self.items if k[0] == thread and wanted(k[1])), reverse=not forward
        )
        start = request.get("ExclusiveStartKey")
        if start is not None:
            after = self._key(start, operation, "key")
            keys = [k for k in keys if (k > after if forward else k < after)]
        return self._page(keys, request.get("Limit"), {})

    def scan(self, **request: Any) -> dict[str, Any]:
        answer = self._enter("Scan", request)
        if answer is not None:
            return answer
        operation = "Scan"
        self._check_table(request["TableName"], operation)
        segments, segment = request.get("TotalSegments", 1), request.get("Segment", 0)

        def order(key: Key) -> tuple[int, str, int]:
            return zlib.crc32(key[0].encode()) % HASH_BUCKETS, *key

        # A thread's items are all in one segment, as the hash key decides the segment.
        keys = sorted(
            (k for k in self.items if order(k)[0] * segments // HASH_BUCKETS == segment),
            key=order,
        )
        start = request.get("ExclusiveStartKey")
        if start is not None:
            after = order(self._key(start, operation, "key"))
            keys = [k for k in keys if order(k) > after]
        return self._page(keys, request.get("Limit"), {})


class Letters:
    """Dead letters collected in memory."""

    def __init__(self) -> None:
        self.sent: list[tuple[Record, dict[str, bytes]]] = []
        self.flushes = 0

    def send(self, record: Record, headers: list[tuple[str, bytes]]) -> None:
        self.sent.append((record, dict(headers)))

    def flush(self, timeout: float = 30.0) -> None:
        self.flushes += 1
