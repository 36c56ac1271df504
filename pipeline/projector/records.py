"""A journal record as the projector sees it: decoded."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.domain.events import Event
from pipeline.kafka.records import Record


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """A decoded journal record: the event, and the bytes and position it came from."""

    record: Record
    event: Event
