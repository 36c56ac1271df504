"""Reading confluent-kafka messages the same way in every consumer loop."""

from __future__ import annotations

from confluent_kafka import Consumer, Message

Headers = tuple[tuple[str, bytes], ...]


def headers_of(message: Message) -> Headers:
    """The record's headers as (name, bytes) pairs; a null header value becomes b""."""
    raw = message.headers() or []
    items = raw.items() if isinstance(raw, dict) else raw
    return tuple((str(k), v if isinstance(v, bytes) else str(v or "").encode()) for k, v in items)


def poll_batch(consumer: Consumer, batch_max: int, first_timeout_s: float) -> list[Message]:
    """Block for the first record only, then take what is already fetched: waiting to fill
    a batch would add its timeout to every record's latency; under load batches grow anyway."""
    first = consumer.consume(1, first_timeout_s)
    if not first or batch_max <= 1:
        return first
    return first + consumer.consume(batch_max - 1, 0)
