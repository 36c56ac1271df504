"""DynamoDB I/O of the mirror: look items up, write new ones, retry what deserves it.

Every request goes through `_call`: throttling and transient errors are retried with capped
exponential backoff and full jitter until the batch's deadline; errors about the item itself
surface as `ItemError`. Requests of one batch run concurrently on a small thread pool (boto3
clients are thread-safe), which is where the throughput comes from (docs/adr/0005).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.mirror import metrics
from pipeline.mirror.aws import error_code
from pipeline.mirror.items import THREAD_ID, Item, Key, key_attributes, key_of
from pipeline.mirror.retry import Deadline, ErrorKind, backoff_delay, classify

log = logging.getLogger(__name__)

T = TypeVar("T")

# DynamoDB's per-request limits.
BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100
_CONDITION_FAILED = "ConditionalCheckFailedException"


class ItemError(Exception):
    """DynamoDB refused the request because of what it carries; the same request fails again."""


class _VanishedError(Exception):
    """A conditional write failed on an item that a consistent read then did not find."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    # Item errors of one item before it is dead-lettered.
    max_attempts: int = 5
    base_s: float = 0.05
    cap_s: float = 5.0


@dataclass(slots=True)
class WriteReport:
    # Keys a conditional write found taken, with the item stored there.
    present: dict[Key, Item] = field(default_factory=dict)
    # Keys DynamoDB refused on every attempt, with the last error.
    refused: dict[Key, str] = field(default_factory=dict)

    def merge(self, other: WriteReport) -> WriteReport:
        self.present.update(other.present)
        self.refused.update(other.refused)
        return self


def _chunks(values: Sequence[T], size: int) -> list[Sequence[T]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class DynamoWriter:
    def __init__(
        self,
        client: Any,
        table: str,
        policy: RetryPolicy,
        concurrency: int,
        *,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
        self._policy = policy
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="mirror-dynamodb")
        self._rand = rand
        self._sleep = sleep

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- reads --------------------------------------------------------------------------

    def stored(self, keys: Sequence[Key], deadline: Deadline) -> dict[Key, Item]:
        """The items stored at `keys` (consistent reads). Raises ItemError if refused."""
        found: dict[Key, Item] = {}
        for part in self._pool.map(
            partial(self._get_chunk, deadline=deadline), _chunks(keys, BATCH_GET_MAX)
        ):
            found.update(part)
        return found

    def _get_chunk(self, keys: Sequence[Key], deadline: Deadline) -> dict[Key, Item]:
        found: dict[Key, Item] = {}
        request: dict[str, Any] = {
            self._table: {"Keys": [key_attributes(k) for k in keys], "ConsistentRead": True}
        }
        attempt = 0
        while request:
            response = self._call(
                "BatchGetItem", deadline, partial(self._client.batch_get_item, RequestItems=request)
            )
            for item in response.get("Responses", {}).get(self._table, []):
                found[key_of(item)] = item
            unprocessed = response.get("UnprocessedKeys") or {}
            left = len(unprocessed.get(self._table, {}).get("Keys", []))
            if not left:
                break
            metrics.UNPROCESSED.labels("BatchGetItem").inc(left)
            self._back_off("BatchGetItem", attempt, deadline, "unprocessed")
            attempt += 1
            request = unprocessed
        return found

    # -- writes -------------------------------------------------------------------------

    def put_batch(self, items: Sequence[Item], deadline: Deadline) -> WriteReport:
        """Write `items` (distinct keys, none stored) with BatchWriteItem.

        A chunk DynamoDB refuses as a whole is written again item by item, conditionally,
        so that one poison item is dead-lettered alone.
        """
        return self._gather(
            self._pool.map(
                partial(self._write_chunk, deadline=deadline), _chunks(items, BATCH_WRITE_MAX)
            )
        )

    def _write_chunk(self, chunk: Sequence[Item], deadline: Deadline) -> WriteReport:
        pending = list(chunk)
        attempt = 0
        while pending:
            request = {self._table: [{"PutRequest": {"Item": item}} for item in pending]}
            try:
                response = self._call(
                    "BatchWriteItem",
                    deadline,
                    partial(self._client.batch_write_item, RequestItems=request),
                )
            except ItemError as exc:
                log.warning(
                    "BatchWriteItem refused (%s): writing its %d items one by one",
                    exc,
                    len(pending),
                )
                return self._gather(self._put_if_absent_each(item, deadline) for item in pending)
            unprocessed = (response.get("UnprocessedItems") or {}).get(self._table, [])
            pending = [entry["PutRequest"]["Item"] for entry in unprocessed]
            metrics.ITEMS_WRITTEN.inc(len(request[self._table]) - len(pending))
            if pending:
                metrics.UNPROCESSED.labels("BatchWriteItem").inc(len(pending))
                self._back_off("BatchWriteItem", attempt, deadline, "unprocessed")
                attempt += 1
        return WriteReport()

    def put_conditional(self, items: Sequence[Item], deadline: Deadline) -> WriteReport:
        """Write each item unless its key is taken; report what was there instead."""
        return self._gather(
            self._pool.map(partial(self._put_if_absent_each, deadline=deadline), items)
        )

    def _put_if_absent_each(self, item: Item, deadline: Deadline) -> WriteReport:
        key = key_of(item)
        refusals = 0
        while True:
            try:
                stored = self._call(
                    "PutItem", deadline, partial(self._put_if_absent, item, deadline)
                )
            except ItemError as exc:
                refusals += 1
                if refusals >= self._policy.max_attempts:
                    log.error("DynamoDB refused %s %d times: %s", key, refusals, exc)
                    return WriteReport(refused={key: str(exc)})
                self._back_off("PutItem", refusals, deadline, ErrorKind.ITEM.value)
                continue
            if stored is None:
                metrics.ITEMS_WRITTEN.inc()
                return WriteReport()
            return WriteReport(present={key: stored})

    def _put_if_absent(self, item: Item, deadline: Deadline) -> Item | None:
        """None once written; the stored item if the key was taken."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=f"attribute_not_exists({THREAD_ID})",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != _CONDITION_FAILED:
                raise
            stored: Item | None = exc.response.get("Item")
            if stored is None:  # a server that does not return it: ask
                stored = self._get(key_of(item), deadline)
            if stored is None:
                # Taken a moment ago and gone now (someone deleted it): try again.
                raise _VanishedError() from exc
            return stored
        return None

    def _get(self, key: Key, deadline: Deadline) -> Item | None:
        response = self._call(
            "GetItem",
            deadline,
            partial(
                self._client.get_item,
                TableName=self._table,
                Key=key_attributes(key),
                ConsistentRead=True,
            ),
        )
        item: Item | None = response.get("Item")
        return item

    # -- retries ------------------------------------------------------------------------

    def _call(self, operation: str, deadline: Deadline, request: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return request()
            except (ClientError, BotoCoreError, _VanishedError) as exc:
                kind = classify(error_code(exc))
                if kind is ErrorKind.ITEM:
                    raise ItemError(f"{error_code(exc)}: {exc}") from exc
                if kind is ErrorKind.THROTTLED:
                    metrics.THROTTLES.labels(operation).inc()
                if attempt & (attempt + 1) == 0:  # 1st, 2nd, 4th, 8th... retry: not a flood
                    log.warning(
                        "%s failed (%s); retrying (attempt %d)", operation, exc, attempt + 1
                    )
                self._back_off(operation, attempt, deadline, kind.value)
                attempt += 1

    def _back_off(self, operation: str, attempt: int, deadline: Deadline, reason: str) -> None:
        deadline.check(operation)
        metrics.RETRIES.labels(operation, reason).inc()
        self._sleep(backoff_delay(attempt, self._policy.base_s, self._policy.cap_s, self._rand))

    @staticmethod
    def _gather(reports: Iterable[WriteReport]) -> WriteReport:
        total = WriteReport()
        for report in reports:
            total.merge(report)
        return total
