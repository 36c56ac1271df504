"""pydantic's validation errors as the API answers them: one `Problem` per bad field, named as
on the wire (`messages[0].text`, `Idempotency-Key`), in the API's words.

And, for a body that failed, a value of the declared shape anyway (each bad part replaced by
a neutral one), so that the domain's rules can still run on the rest: one answer then names
every bad field, whichever layer found it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from api.models import ULID_MESSAGE, ULID_PATTERN
from pipeline.domain import Problem

M = TypeVar("M", bound=BaseModel)

# pydantic's error types in the API's words (JSON's names for the types).
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "list_type": "must be an array",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "int_type": "must be an integer",
}
_TYPE_ERRORS = frozenset({"string_type", "list_type", "model_type", "dict_type", "int_type"})
# A neutral value of each type, for a part that had the wrong one; None stands for a missing
# field until the next pass names its type.
_NEUTRAL: Mapping[str, Callable[[], Any]] = {
    "missing": lambda: None,
    "string_type": str,
    "list_type": list,
    "model_type": dict,
    "dict_type": dict,
}
# Enough for the deepest body (a message's recipient list: object, array, object, array).
_NEUTRAL_PASSES = 6


def wire_name(loc: Sequence[int | str], root: str = "body") -> str:
    """`("messages", 0, "text")` -> `messages[0].text`; the empty location is the body."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name or root


@cache
def _parameter_schemas(model: type[BaseModel]) -> Mapping[str, Any]:
    properties: Mapping[str, Any] = model.model_json_schema()["properties"]
    return properties


def _integer_rule(model: type[BaseModel] | None, field: str) -> str:
    """The documented range of an integer parameter, in words."""
    schema = _parameter_schemas(model).get(field, {}) if model is not None else {}
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "integer":
            low, high = option.get("minimum"), option.get("maximum")
            if low is not None and high is not None:
                return f"must be an integer from {low} to {high}"
            if low is not None:
                return f"must be an integer >= {low}"
    return "must be an integer"


def _message(error: ErrorDetails, parameters: type[BaseModel] | None) -> str:
    kind, loc = error["type"], error["loc"]
    # JSON's null stands for "absent" (what most encoders emit for an unset field).
    if kind in _TYPE_ERRORS and error["input"] is None and loc and isinstance(loc[-1], str):
        return "is required"
    if kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == ULID_PATTERN:
        return ULID_MESSAGE
    if parameters is not None and kind in {"int_type", "greater_than_equal", "less_than_equal"}:
        return _integer_rule(parameters, str(loc[0]))
    return _MESSAGES.get(kind, error["msg"])


def _in_wire_order(errors: Sequence[ErrorDetails]) -> list[ErrorDetails]:
    """pydantic's order (fields as declared, items by index), except that an object's unknown
    fields come first: a misspelt name explains the "is required" that follows it."""
    first_seen: dict[tuple[int | str, ...], int] = {}
    for index, error in enumerate(errors):
        for depth in range(1, len(error["loc"]) + 1):
            first_seen.setdefault(tuple(error["loc"][:depth]), index)

    def key(error: ErrorDetails) -> list[tuple[int, int]]:
        loc = tuple(error["loc"])
        unknown = error["type"] == "extra_forbidden"
        return [
            (0 if unknown and depth == len(loc) else 1, first_seen[loc[:depth]])
            for depth in range(1, len(loc) + 1)
        ]

    return sorted(errors, key=key)


def problems_of(
    error: ValidationError | Sequence[ErrorDetails], parameters: type[BaseModel] | None = None
) -> list[Problem]:
    """One problem per error; `parameters`: the model of the parameters that failed, for the
    wording of its integers' ranges."""
    errors = error.errors(include_url=False) if isinstance(error, ValidationError) else error
    if any(details["type"] == "extra_forbidden" for details in errors):
        errors = _in_wire_order(errors)
    return [Problem(wire_name(details["loc"]), _message(details, parameters)) for details in errors]


def _neutral(kind: str) -> Any:
    return _NEUTRAL.get(kind, lambda: None)()


def _has(container: Any, part: int | str) -> bool:
    if isinstance(container, dict):
        return isinstance(part, str) and part in container
    return isinstance(container, list) and isinstance(part, int) and part < len(container)


def _make_neutral(value: Any, errors: Sequence[ErrorDetails]) -> Any:
    """`value` with each failed part made neutral (an unknown field dropped), changed in place:
    one pass, however many parts failed (a body of 1 MiB can hold half a million)."""
    for details in errors:
        loc, kind = details["loc"], details["type"]
        if not loc:
            return _neutral(kind)
        parent = value
        for part in loc[:-1]:
            if not _has(parent, part):
                break  # inside a part already made neutral
            parent = parent[part]
        else:
            last = loc[-1]
            if isinstance(parent, dict) and isinstance(last, str):
                if kind == "extra_forbidden":
                    parent.pop(last, None)
                else:
                    parent[last] = _neutral(kind)
            elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
                parent[last] = _neutral(kind)
    return value


def validate_body(model: type[M], raw: object) -> tuple[M, list[Problem]]:
    """The body as `model` and its problems; a body with problems still comes back as a
    `model`, its bad parts neutral, for the checks that follow. `raw`, the parsed JSON, may
    be changed."""
    try:
        return model.model_validate(raw), []
    except ValidationError as error:
        errors = error.errors(include_url=False)
        failed = error
    problems = problems_of(errors)
    value = raw
    for _ in range(_NEUTRAL_PASSES):
        value = _make_neutral(value, errors)
        try:
            return model.model_validate(value), problems
        except ValidationError as again:
            failed, errors = again, again.errors(include_url=False)
    raise AssertionError(f"no neutral {model.__name__} after {_NEUTRAL_PASSES} passes: {failed}")


def _fields_around(field: str) -> Iterator[str]:
    """`messages[1].text` -> `messages`, `messages[1]`, `messages[1].text`: the field and
    those it is a part of."""
    for index, char in enumerate(field):
        if char in ".[":
            yield field[:index]
    yield field


def merge_problems(first: Sequence[Problem], then: Sequence[Problem]) -> list[Problem]:
    """`first` plus the problems of `then` about fields `first` does not mention (nor a field
    they are part of): one message per bad field even when two layers look at the same field."""
    merged = list(first)
    reported = {problem.field for problem in merged}
    for problem in then:
        if not any(field in reported for field in _fields_around(problem.field)):
            merged.append(problem)
            reported.add(problem.field)
    return merged
