"""Pure retry policy: which DynamoDB errors are worth retrying, and how long to wait.

Only errors about the item itself count towards the dead-letter limit. Throttling, server
errors, network trouble and anything unknown (also a missing table or expired credentials)
are retried without limit until the batch's deadline: when it passes, the process exits
without committing, so an outage costs a restart, never an event.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TooManyRequestsException",
    }
)
# The request is wrong for DynamoDB: the same request will fail the same way.
ITEM_ERROR_CODES = frozenset(
    {
        "ValidationException",
        "ItemCollectionSizeLimitExceededException",
        "SerializationException",
    }
)


class ErrorKind(Enum):
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    ITEM = "item"


def classify(code: str | None) -> ErrorKind:
    """`code` is the AWS error code, None for a failure without an answer (network)."""
    if code in THROTTLING_CODES:
        return ErrorKind.THROTTLED
    if code in ITEM_ERROR_CODES:
        return ErrorKind.ITEM
    return ErrorKind.TRANSIENT


def backoff_delay(attempt: int, base_s: float, cap_s: float, rand: Callable[[], float]) -> float:
    """Capped exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)].

    Full jitter spreads the retries of many writers (threads, pods) that were throttled at
    the same moment, instead of having them all come back together.
    """
    ceiling = min(cap_s, math.ldexp(base_s, min(attempt, 62)))
    return ceiling * rand()


class RetryDeadlineExceededError(Exception):
    """A batch kept failing for longer than the deadline: restart rather than dead-letter."""


@dataclass(frozen=True, slots=True)
class Deadline:
    at: float

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds)

    def check(self, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        if clock() > self.at:
            raise RetryDeadlineExceededError(f"{what}: still failing at the retry deadline")
