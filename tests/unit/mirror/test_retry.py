"""Retry policy: error classes, capped exponential backoff with full jitter, deadlines."""

from __future__ import annotations

import pytest

from pipeline.mirror.retry import (
    Deadline,
    ErrorKind,
    RetryDeadlineExceededError,
    backoff_delay,
    classify,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ProvisionedThroughputExceededException", ErrorKind.THROTTLED),
        ("ThrottlingException", ErrorKind.THROTTLED),
        ("RequestLimitExceeded", ErrorKind.THROTTLED),
        ("ValidationException", ErrorKind.ITEM),
        ("ItemCollectionSizeLimitExceededException", ErrorKind.ITEM),
        ("InternalServerError", ErrorKind.TRANSIENT),
        # Not the item's fault: dead-lettering every item for them would empty the mirror.
        ("ResourceNotFoundException", ErrorKind.TRANSIENT),
        ("ExpiredTokenException", ErrorKind.TRANSIENT),
        ("SomethingNew", ErrorKind.TRANSIENT),
        (None, ErrorKind.TRANSIENT),
    ],
)
def test_classify(code: str | None, kind: ErrorKind) -> None:
    assert classify(code) is kind


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    ceilings = [backoff_delay(n, 0.05, 1.0, lambda: 1.0) for n in range(8)]
    assert ceilings == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    assert backoff_delay(10_000, 0.05, 1.0, lambda: 1.0) == 1.0


def test_backoff_is_fully_jittered() -> None:
    assert backoff_delay(3, 0.05, 1.0, lambda: 0.0) == 0.0
    assert backoff_delay(3, 0.05, 1.0, lambda: 0.5) == pytest.approx(0.2)


def test_deadline() -> None:
    now = [100.0]
    deadline = Deadline.after(5.0, clock=lambda: now[0])
    deadline.check("op", clock=lambda: now[0])
    now[0] = 105.5
    with pytest.raises(RetryDeadlineExceededError, match="op"):
        deadline.check("op", clock=lambda: now[0])
