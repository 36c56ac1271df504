"""The schema language: one problem per bad field, named as on the wire."""

from __future__ import annotations

from typing import Any

import pytest

from api.routes import ADD_MESSAGES_BODY, CREATE_BODY, LIMIT
from api.schema import Array, Integer, Object, Prop, String, Ulid, merge_problems
from pipeline.domain import Problem
from tests.support.builders import ALICE, BOB

pytestmark = pytest.mark.unit


def check(schema: Any, value: object, *, values: bool = True) -> tuple[Any, list[str]]:
    problems: list[Problem] = []
    result = schema.check(value, "", problems, values=values)
    return result, [str(p) for p in problems]


def test_a_good_body_has_no_problems() -> None:
    body = {
        "account_id": ALICE,
        "title": "Lunch",
        "administrator_ids": [],
        "member_ids": [BOB],
    }
    result, problems = check(CREATE_BODY, body, values=False)
    assert problems == []
    assert result == {**body, "remarks": None, "parent_thread_id": None}


def test_every_bad_field_is_named() -> None:
    body = {
        "account_id": 7,
        "title": ["x"],
        "member_ids": "nope",
        "administrator_ids": [1, ALICE],
        "colour": "red",
    }
    result, problems = check(CREATE_BODY, body, values=False)
    assert problems == [
        "colour: is not a known field",
        "account_id: must be a string",
        "title: must be a string",
        "administrator_ids[0]: must be a string",
        "member_ids: must be an array",
    ]
    # Neutral values keep the shape, so the domain's checks can still run on the rest.
    assert result["member_ids"] == []
    assert result["title"] == ""


def test_nested_fields_are_named_with_index_and_dot() -> None:
    body = {"account_id": ALICE, "messages": [{"text": "ok"}, {"txt": "typo"}, 5]}
    _, problems = check(ADD_MESSAGES_BODY, body, values=False)
    assert problems == [
        "messages[1].txt: is not a known field",
        "messages[1].text: is required",
        "messages[2]: must be a JSON object",
    ]


def test_a_body_that_is_not_an_object() -> None:
    _, problems = check(CREATE_BODY, [1, 2], values=False)
    assert problems == ["body: must be a JSON object"]


def test_optional_fields_accept_null() -> None:
    body = {"account_id": ALICE, "messages": [{"text": "x", "reply_message_id": None}]}
    result, problems = check(ADD_MESSAGES_BODY, body, values=False)
    assert problems == []
    assert result["messages"][0] == {"text": "x", "reply_message_id": None, "to_account_ids": None}


def test_shape_only_leaves_value_rules_to_the_domain() -> None:
    body = {"account_id": "short", "title": "", "administrator_ids": [], "member_ids": []}
    assert check(CREATE_BODY, body, values=False)[1] == []
    assert check(CREATE_BODY, body, values=True)[1] == [
        "account_id: must be a ULID (26 Crockford base32 characters)",
        "title: must be at least 1 characters",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", 1), ("200", 200), ("0", None), ("201", None), ("ten", None), ("1.5", None)],
)
def test_integer_parameters(raw: str, expected: int | None) -> None:
    problems: list[Problem] = []
    value = LIMIT.schema.parse_text(raw, "limit", problems)
    if not problems:
        value = LIMIT.schema.check(value, "limit", problems, values=True)
    if expected is None:
        assert [str(p) for p in problems] == ["limit: must be an integer from 1 to 200"]
    else:
        assert (value, problems) == (expected, [])


def test_booleans_are_not_integers() -> None:
    assert check(Integer(), True)[1] == [": must be an integer"]


def test_arrays_bounded_when_values_are_checked() -> None:
    schema = Array(Ulid(), max_items=2)
    assert check(schema, [ALICE, ALICE, ALICE])[1] == [": must have at most 2 items"]
    assert check(schema, [ALICE, ALICE, ALICE], values=False)[1] == []


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


def test_json_schema_of_an_object_is_a_component() -> None:
    refs: dict[str, Any] = {}
    thing = Object("Thing", [Prop("id", Ulid()), Prop("note", String(), required=False)])
    assert thing.json_schema(refs) == {"$ref": "#/components/schemas/Thing"}
    assert refs["Thing"]["required"] == ["id"]
    assert refs["Thing"]["additionalProperties"] is False
