"""One record type for every consumer, whatever the client library, and its adapters.

Components see a `Record` only: the command worker (Faust or confluent-kafka), the mirror,
the projector, verify and the scanners. A null value (a tombstone; nothing here writes one)
arrives as b"" and is undecodable like any other bad value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.kafka.dead_letters import dead_letter_headers

if TYPE_CHECKING:  # the record stays pure: pure cores (the projector's plan) import it
    from confluent_kafka import Message

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers = ()
    timestamp_ms: int = 0

    @property
    def position(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    def header(self, name: str) -> bytes | None:
        """The first value of header `name` (Kafka allows repeats)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def dead_letter_headers(
        self, reason: str, error: str, extra: Sequence[tuple[str, bytes]] = ()
    ) -> list[tuple[str, bytes]]:
        return dead_letter_headers(
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            headers=self.headers,
            reason=reason,
            error=error,
            extra=extra,
        )


def _headers(raw: Any) -> Headers:
    items = raw.items() if isinstance(raw, dict) else (raw or [])
    return tuple((str(k), v if isinstance(v, bytes) else str(v or "").encode()) for k, v in items)


def from_confluent(message: Message) -> Record:
    _kind, timestamp_ms = message.timestamp()
    return Record(
        topic=message.topic() or "",
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        key=message.key(),
        value=message.value() or b"",
        headers=_headers(message.headers()),
        timestamp_ms=timestamp_ms,
    )


def from_faust(event: Any) -> Record:
    """A Faust stream event (aiokafka underneath) as a Record."""
    message = event.message
    return Record(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value or b"",
        headers=_headers(message.headers),
        timestamp_ms=int(message.timestamp * 1000),
    )
