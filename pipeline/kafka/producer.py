"""An asyncio face on confluent-kafka's Producer: `send()` returns a future resolved by the
broker's acknowledgement (or failure), so callers can await durability explicitly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from pipeline.kafka.config import producer_config

Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Delivered:
    topic: str
    partition: int
    offset: int


class DeliveryError(Exception):
    """The broker did not acknowledge a record (after librdkafka's own retries)."""


class AsyncProducer:
    def __init__(self, bootstrap_servers: str, client_id: str, **overrides: Any) -> None:
        self._producer = Producer(producer_config(bootstrap_servers, client_id, **overrides))
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
                result = Delivered(
                    message.topic() or "", message.partition() or 0, message.offset() or 0
                )
            loop.call_soon_threadsafe(_resolve, future, result)

        kwargs: dict[str, Any] = {"on_delivery": on_delivery}
        if key is not None:
            kwargs["key"] = key
        if partition is not None:
            kwargs["partition"] = partition
        if headers:
            kwargs["headers"] = list(headers)
        while True:
            try:
                self._producer.produce(topic, value, **kwargs)
                break
            except BufferError:
                # Local queue full: let the poll thread drain deliveries, then retry.
                self._producer.poll(0.01)
            except KafkaException as exc:
                future.set_exception(DeliveryError(str(exc)))
                break
        return future

    async def flush(self, timeout: float = 30.0) -> None:
        remaining = await asyncio.to_thread(self._producer.flush, timeout)
        if remaining:
            raise DeliveryError(f"{remaining} records not acknowledged within {timeout}s")

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
        self._stop.set()
        self._poller.join(timeout=1.0)


def _resolve(future: asyncio.Future[Delivered], result: Delivered | DeliveryError) -> None:
    if future.done():
        return
    if isinstance(result, DeliveryError):
        future.set_exception(result)
    else:
        future.set_result(result)
