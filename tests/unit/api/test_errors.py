"""The rejection -> HTTP status table and the one error shape."""

from __future__ import annotations

import json

import pytest

from api.errors import REASONS, REJECTION_STATUS, ApiError, HttpReason, invalid
from pipeline.domain import Problem, RejectionReason

pytestmark = pytest.mark.unit

R = RejectionReason


def test_every_rejection_reason_has_a_status() -> None:
    assert set(REJECTION_STATUS) == set(RejectionReason)


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (R.THREAD_NOT_FOUND, 404),
        (R.SENDER_NOT_ADMINISTRATOR, 403),
        (R.SENDER_NOT_MEMBER, 403),
        (R.NOT_MESSAGE_SENDER, 403),
        (R.THREAD_ALREADY_EXISTS, 409),
        (R.THREAD_DESTROYED, 409),
        (R.LAST_ADMINISTRATOR, 409),
        (R.MESSAGE_LIMIT, 409),
        (R.REPLY_TARGET_NOT_FOUND, 422),
        (R.RECIPIENT_NOT_MEMBER, 422),
        (R.INVALID_COMMAND, 422),
    ],
)
def test_status_of(reason: RejectionReason, status: int) -> None:
    assert REJECTION_STATUS[reason] == status


def test_reasons_are_distinct_across_the_domain_and_http() -> None:
    assert len(REASONS) == len(set(REASONS))
    assert not {r.value for r in RejectionReason} & {r.value for r in HttpReason}


def test_error_shape() -> None:
    response = ApiError(409, HttpReason.STALE_VIEW, ["behind"], version=3).response()
    assert response.status_code == 409
    assert json.loads(response.body) == {
        "error_messages": ["behind"],
        "reason": "STALE_VIEW",
        "version": 3,
    }


def test_invalid_has_one_message_per_problem() -> None:
    error = invalid([Problem("title", "is required"), Problem("limit", "too big")], "X")
    body = json.loads(error.response().body)
    assert body == {"error_messages": ["title: is required", "limit: too big"], "reason": "X"}
    assert error.status == 422
