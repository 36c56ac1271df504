"""A journal record as the projector sees it, independent of the consumer library."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.domain.events import Event


@dataclass(frozen=True, slots=True)
class JournalRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def position(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """A decoded journal record: the event, and the bytes and position it came from."""

    record: JournalRecord
    event: Event
