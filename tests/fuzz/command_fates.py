"""What the worker must do with each record it reads: the fuzz test's oracle.

The worker's rules (ADR 0002, executor): bytes that are not a command are dead-lettered
UNDECODABLE and get no reply (there is no command id to answer); a command in a partition
its thread id does not map to is dead-lettered MISROUTED and rejected; a command breaking a
value rule is dead-lettered INVALID_COMMAND and rejected; any other command is decided and
answered once, and only an accepted one appends events.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pipeline.codec import CodecError, decode_command
from pipeline.domain import Command, validate_command
from pipeline.kafka.partitioner import partition_for


class Fate(Enum):
    UNDECODABLE = "UNDECODABLE"
    MISROUTED = "MISROUTED"
    INVALID = "INVALID_COMMAND"
    DECIDED = "DECIDED"

    @property
    def dead_lettered(self) -> bool:
        return self is not Fate.DECIDED

    @property
    def answered(self) -> bool:
        return self is not Fate.UNDECODABLE


@dataclass(frozen=True)
class Judged:
    command: Command | None
    fate: Fate


def judge(value: bytes | None, partition: int, partitions: int) -> Judged:
    try:
        command = decode_command(value)  # type: ignore[arg-type]  # a null value is bad input
    except CodecError:
        return Judged(None, Fate.UNDECODABLE)
    if partition_for(command.thread_id, partitions) != partition:
        return Judged(command, Fate.MISROUTED)
    if validate_command(command):
        return Judged(command, Fate.INVALID)
    return Judged(command, Fate.DECIDED)
