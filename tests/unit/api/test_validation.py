"""The request models' checks as the API answers them: one problem per bad field, named as on
the wire, and a body of the declared shape even when it failed (for the domain's checks)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api.commands import CommandRoute, build_create, build_join_members
from api.models import AccountIdsRequest, AddMessagesRequest, CreateThreadRequest
from api.queries import MessagesParams, ThreadsParams
from api.spec import ACCOUNT_CONTEXT
from api.validation import merge_problems, problems_of, validate_body
from pipeline.domain import Problem
from tests.support.builders import ALICE, BOB, THREAD

pytestmark = pytest.mark.unit


def check(model: type[BaseModel], value: object) -> tuple[Any, list[str]]:
    result, problems = validate_body(model, value)
    return result, [str(p) for p in problems]


def test_a_good_body_has_no_problems() -> None:
    body = {
        "account_id": ALICE,
        "title": "Lunch",
        "administrator_ids": [],
        "member_ids": [BOB],
    }
    result, problems = check(CreateThreadRequest, body)
    assert problems == []
    assert result.model_dump() == {**body, "remarks": None, "parent_thread_id": None}


def test_every_bad_field_is_named() -> None:
    body = {
        "account_id": 7,
        "title": ["x"],
        "member_ids": "nope",
        "administrator_ids": [1, ALICE],
        "colour": "red",
    }
    result, problems = check(CreateThreadRequest, body)
    assert problems == [
        "colour: is not a known field",
        "account_id: must be a string",
        "title: must be a string",
        "administrator_ids[0]: must be a string",
        "member_ids: must be an array",
    ]
    # Neutral values keep the shape, so the domain's checks can still run on the rest.
    assert result.member_ids == []
    assert result.title == ""
    assert result.administrator_ids == ["", ALICE]


def test_nested_fields_are_named_with_index_and_dot() -> None:
    body = {"account_id": ALICE, "messages": [{"text": "ok"}, {"txt": "typo"}, 5]}
    result, problems = check(AddMessagesRequest, body)
    assert problems == [
        "messages[1].txt: is not a known field",
        "messages[1].text: is required",
        "messages[2]: must be a JSON object",
    ]
    assert [m.text for m in result.messages] == ["ok", "", ""]


def test_a_body_that_is_not_an_object() -> None:
    result, problems = check(CreateThreadRequest, [1, 2])
    assert problems == ["body: must be a JSON object"]
    assert result.title == ""


def test_null_is_absent() -> None:
    body = {"account_id": ALICE, "messages": [{"text": "x", "reply_message_id": None}]}
    result, problems = check(AddMessagesRequest, body)
    assert problems == []
    assert result.messages[0].model_dump() == {
        "text": "x",
        "reply_message_id": None,
        "to_account_ids": None,
    }
    # ... so a required field given null is missing, but an item of a list is no string.
    _, problems = check(AccountIdsRequest, {"account_ids": None})
    assert problems == ["account_ids: is required"]
    _, problems = check(AccountIdsRequest, {"account_ids": [None]})
    assert problems == ["account_ids[0]: must be a string"]


def test_json_types_are_not_coerced() -> None:
    _, problems = check(CreateThreadRequest, {"title": 7, "administrator_ids": {"0": ALICE}})
    assert problems == [
        "title: must be a string",
        "administrator_ids: must be an array",
        "member_ids: is required",
    ]
    _, problems = check(AccountIdsRequest, {"account_ids": [True]})
    assert problems == ["account_ids[0]: must be a string"]


def test_the_shape_leaves_value_rules_to_the_domain() -> None:
    body = {"account_id": "short", "title": "", "administrator_ids": [], "member_ids": []}
    result, problems = check(CreateThreadRequest, body)
    assert problems == []
    domain = CommandRoute(build_create).check({}, "short", result)
    assert [str(p) for p in domain] == [
        "account_id: must be a ULID (26 Crockford base32 characters)",
        "title: must be 1..255 characters long",
    ]


def test_list_bounds_are_the_domains() -> None:
    body = {"account_ids": [ALICE] * 1001}
    result, problems = check(AccountIdsRequest, body)
    assert problems == []
    domain = CommandRoute(build_join_members).check({"thread_id": THREAD}, ALICE, result)
    assert [str(p) for p in domain] == ["account_ids: must have at most 1000 items"]


def param_problems(model: type[BaseModel], raw: dict[str, str], account: str = ALICE) -> list[str]:
    try:
        model.model_validate(raw, context={ACCOUNT_CONTEXT: account})
    except ValidationError as error:
        return [str(p) for p in problems_of(error, model)]
    return []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("200", 200),
        ("+7", 7),
        ("0", None),
        ("201", None),
        ("ten", None),
        ("1.5", None),
        # pydantic's own parsing of text would take these; a parameter is written plainly.
        (" 5", None),
        ("5_0", None),
        ("5.0", None),
        ("1e3", None),
    ],
)
def test_integer_parameters(raw: str, expected: int | None) -> None:
    if expected is None:
        assert param_problems(ThreadsParams, {"limit": raw}) == [
            "limit: must be an integer from 1 to 200"
        ]
    else:
        assert ThreadsParams.model_validate({"limit": raw}).limit == expected


def test_every_bad_parameter_is_named_in_order() -> None:
    raw = {"thread_id": "nope", "min_version": "-1", "limit": "0", "cursor": "junk"}
    # The cursor is checked against the thread's list only when the thread id is valid.
    assert param_problems(MessagesParams, raw) == [
        "thread_id: must be a ULID (26 Crockford base32 characters)",
        "min_version: must be an integer >= 0",
        "limit: must be an integer from 1 to 200",
    ]
    assert param_problems(MessagesParams, {**raw, "thread_id": THREAD})[-1] == (
        "cursor: is not a valid cursor (damaged or edited)"
    )


def test_merge_keeps_one_message_per_field() -> None:
    shape = [Problem("title", "must be a string"), Problem("messages[1]", "must be an object")]
    domain = [
        Problem("title", "must be 1..255 characters long"),
        Problem("messages[1].text", "must be 1..4096 characters long"),
        Problem("messages[10].text", "must be 1..4096 characters long"),
        Problem("account_id", "must be a ULID"),
    ]
    assert [str(p) for p in merge_problems(shape, domain)] == [
        "title: must be a string",
        "messages[1]: must be an object",
        "messages[10].text: must be 1..4096 characters long",
        "account_id: must be a ULID",
    ]


def test_many_bad_items_cost_time_in_proportion() -> None:
    """A body of the allowed size can hold hundreds of thousands of bad items: naming them,
    making them neutral and merging the domain's problems must stay linear (merging once
    compared every pair: 84 s for an 800 KB body)."""
    body = {"title": "t", "member_ids": ["x"] * 1000, "administrator_ids": [1] * 100_000}
    started = time.perf_counter()
    result, shape = validate_body(CreateThreadRequest, body)
    domain = CommandRoute(build_create).check({}, ALICE, result)
    merged = merge_problems(shape, domain)
    elapsed = time.perf_counter() - started
    # The domain adds the list's bound and the 1,000 members that are no ULIDs.
    assert (len(shape), len(domain), len(merged)) == (100_000, 1001, 101_001)
    assert elapsed < 5.0, f"{elapsed:.1f} s"
