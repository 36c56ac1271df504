"""An asyncio face on confluent-kafka's Producer: `send()` returns a future resolved by the
broker's acknowledgement (or failure), so callers can await durability explicitly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from pipeline.kafka.config import producer_config
from pipeline.kafka.security import KafkaConnection

Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Delivered:
    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, message: Message) -> Delivered:
        """Where the broker stored an acknowledged message."""
        return cls(message.topic() or "", message.partition() or 0, message.offset() or 0)


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    value: bytes
    key: bytes | None = None
    partition: int | None = None
    headers: Headers | None = None


class DeliveryError(Exception):
    """The broker did not acknowledge a record (after librdkafka's own retries)."""


class AsyncProducer:
    def __init__(self, connection: KafkaConnection, client_id: str, **overrides: Any) -> None:
        self._producer = Producer(producer_config(connection, client_id, **overrides))
        self._stop = threading.Event()
        # Delivery callbacks run on this thread; they hand results to the loop thread-safely.
        self._poller = threading.Thread(target=self._poll, name=f"{client_id}-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> asyncio.Future[Delivered]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivered] = loop.create_future()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                result: Delivered | DeliveryError = DeliveryError(str(error))
            else:
                result = Delivered.of(message)
            loop.call_soon_threadsafe(_resolve, future, result)

        self._produce(topic, value, _options(on_delivery, key, partition, headers), future)
        return future

    def send_all(self, records: Sequence[OutgoingRecord]) -> asyncio.Future[list[Delivered]]:
        """Produce `records` in order; one future for all of them, resolved once the broker
        acknowledged every one (results in the same order) or failed on the first error.

        One loop wake-up per batch instead of one per record: at thousands of records per
        second, per-record futures and cross-thread wake-ups were a visible share of the
        worker's time.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Delivered]] = loop.create_future()
        if not records:
            future.set_result([])
            return future
        results: list[Delivered | None] = [None] * len(records)
        remaining = [len(records)]
        # Delivery reports run on the poll thread, and on the caller's thread when a full
        # queue makes `_produce` poll: the countdown is shared.
        lock = threading.Lock()

        def callback(index: int) -> Callable[[KafkaError | None, Message], None]:
            def on_delivery(error: KafkaError | None, message: Message) -> None:
                if error is not None:
                    loop.call_soon_threadsafe(_fail, future, DeliveryError(str(error)))
                    return
                results[index] = Delivered.of(message)
                with lock:
                    remaining[0] -= 1
                    done = remaining[0] == 0
                if done:
                    loop.call_soon_threadsafe(_complete, future, results)

            return on_delivery

        for index, record in enumerate(records):
            options = _options(callback(index), record.key, record.partition, record.headers)
            if not self._produce(record.topic, record.value, options, future):
                break
        return future

    def _produce(
        self, topic: str, value: bytes, kwargs: dict[str, Any], future: asyncio.Future[Any]
    ) -> bool:
        while True:
            try:
                self._producer.produce(topic, value, **kwargs)
                return True
            except BufferError:
                # Local queue full: let the poll thread drain deliveries, then retry.
                self._producer.poll(0.01)
            except KafkaException as exc:
                if not future.done():
                    future.set_exception(DeliveryError(str(exc)))
                return False

    async def flush(self, timeout: float = 30.0) -> None:
        remaining = await asyncio.to_thread(self._producer.flush, timeout)
        if remaining:
            raise DeliveryError(f"{remaining} records not acknowledged within {timeout}s")

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
        self._stop.set()
        self._poller.join(timeout=1.0)


def _options(
    on_delivery: Callable[[KafkaError | None, Message], None],
    key: bytes | None,
    partition: int | None,
    headers: Headers | None,
) -> dict[str, Any]:
    """`Producer.produce` keywords: only what is set (librdkafka picks the partition itself)."""
    options: dict[str, Any] = {"on_delivery": on_delivery}
    if key is not None:
        options["key"] = key
    if partition is not None:
        options["partition"] = partition
    if headers:
        options["headers"] = list(headers)
    return options


def _fail(future: asyncio.Future[Any], error: DeliveryError) -> None:
    if not future.done():
        future.set_exception(error)


def _complete(future: asyncio.Future[list[Delivered]], results: list[Delivered | None]) -> None:
    if not future.done():
        future.set_result([r for r in results if r is not None])


def _resolve(future: asyncio.Future[Delivered], result: Delivered | DeliveryError) -> None:
    if future.done():
        return
    if isinstance(result, DeliveryError):
        future.set_exception(result)
    else:
        future.set_result(result)
