"""A small declarative schema language: one definition gives the OpenAPI (JSON Schema 2020-12)
fragment AND the request check, so the document cannot drift from what the handlers accept.

`check` reports one `Problem` per bad field, named as on the wire (`messages[0].text`), and
returns a value of the declared shape even for bad input (a neutral one where the input was
unusable), so later checks (the domain's `validate_command`) can still run on the rest.

Two strengths of check: `values=True` enforces every constraint (query and path parameters,
which no other layer checks); `values=False` checks only the JSON shape (request bodies,
whose value rules live once, in `pipeline.domain.validation`). The constraints still appear
in the document, derived from the same constants the domain uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from pipeline.domain import Problem
from pipeline.domain.ids import CROCKFORD, is_ulid

JsonSchema: TypeAlias = dict[str, Any]

ULID_PATTERN = f"^[0-7][{CROCKFORD}]{{25}}$"
ULID_EXAMPLE = "01KAB00000000000000000000A"
ULID_MESSAGE = "must be a ULID (26 Crockford base32 characters)"
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")


class Schema:
    """Base of the schema nodes."""

    description: str

    def json_schema(self, refs: dict[str, JsonSchema]) -> JsonSchema:
        """The JSON Schema of this node; named objects are put in `refs` and referenced."""
        raise NotImplementedError

    def check(self, value: object, name: str, problems: list[Problem], *, values: bool) -> Any:
        raise NotImplementedError

    def neutral(self) -> Any:
        raise NotImplementedError

    def parse_text(self, raw: str, name: str, problems: list[Problem]) -> Any:
        """A parameter's text (query, path, header) as the value `check` expects."""
        return raw


def _describe(schema: JsonSchema, description: str) -> JsonSchema:
    if description:
        schema["description"] = description
    return schema


@dataclass(frozen=True, slots=True)
class String(Schema):
    description: str = ""
    min_length: int | None = None
    max_length: int | None = None
    ulid: bool = False
    format: str | None = None
    enum: tuple[str, ...] = ()
    example: str | None = None

    def json_schema(self, refs: dict[str, JsonSchema]) -> JsonSchema:
        schema: JsonSchema = {"type": "string"}
        if self.ulid:
            schema["pattern"] = ULID_PATTERN
            schema["minLength"] = schema["maxLength"] = 26
            schema["examples"] = [ULID_EXAMPLE]
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.format:
            schema["format"] = self.format
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.example is not None:
            schema["examples"] = [self.example]
        return _describe(schema, self.description)

    def check(self, value: object, name: str, problems: list[Problem], *, values: bool) -> Any:
        if not isinstance(value, str):
            problems.append(Problem(name, "must be a string"))
            return ""
        if values:
            if self.ulid and not is_ulid(value):
                problems.append(Problem(name, ULID_MESSAGE))
            elif self.min_length is not None and len(value) < self.min_length:
                problems.append(Problem(name, f"must be at least {self.min_length} characters"))
            elif self.max_length is not None and len(value) > self.max_length:
                problems.append(Problem(name, f"must be at most {self.max_length} characters"))
            elif self.enum and value not in self.enum:
                problems.append(Problem(name, f"must be one of {', '.join(self.enum)}"))
        return value

    def neutral(self) -> Any:
        return ""


def Ulid(description: str = "") -> String:  # noqa: N802 - reads as a type in the tables
    return String(description=description, ulid=True)


@dataclass(frozen=True, slots=True)
class Integer(Schema):
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None
    default: int | None = None

    def json_schema(self, refs: dict[str, JsonSchema]) -> JsonSchema:
        schema: JsonSchema = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        return _describe(schema, self.description)

    def _range(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"an integer from {self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f"an integer >= {self.minimum}"
        return "an integer"

    def parse_text(self, raw: str, name: str, problems: list[Problem]) -> Any:
        if not _INTEGER.fullmatch(raw):
            problems.append(Problem(name, f"must be {self._range()}"))
            return None
        return int(raw)

    def check(self, value: object, name: str, problems: list[Problem], *, values: bool) -> Any:
        # bool is an int in Python but not in JSON.
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(Problem(name, f"must be {self._range()}"))
            return self.neutral()
        too_small = self.minimum is not None and value < self.minimum
        too_big = self.maximum is not None and value > self.maximum
        if values and (too_small or too_big):
            problems.append(Problem(name, f"must be {self._range()}"))
        return value

    def neutral(self) -> Any:
        return self.default if self.default is not None else (self.minimum or 0)


@dataclass(frozen=True, slots=True)
class Array(Schema):
    items: Schema
    description: str = ""
    min_items: int | None = None
    max_items: int | None = None

    def json_schema(self, refs: dict[str, JsonSchema]) -> JsonSchema:
        schema: JsonSchema = {"type": "array", "items": self.items.json_schema(refs)}
        if self.min_items is not None:
            schema["minItems"] = self.min_items
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        return _describe(schema, self.description)

    def check(self, value: object, name: str, problems: list[Problem], *, values: bool) -> Any:
        if not isinstance(value, list):
            problems.append(Problem(name, "must be an array"))
            return []
        if values and self.max_items is not None and len(value) > self.max_items:
            problems.append(Problem(name, f"must have at most {self.max_items} items"))
            return []
        if values and self.min_items is not None and len(value) < self.min_items:
            problems.append(Problem(name, f"must have at least {self.min_items} items"))
        return [
            self.items.check(item, f"{name}[{index}]", problems, values=values)
            for index, item in enumerate(value)
        ]

    def neutral(self) -> Any:
        return []


@dataclass(frozen=True, slots=True)
class Prop:
    name: str
    schema: Schema
    required: bool = True
    # Optional fields accept an explicit null as "absent" (what most JSON encoders emit).
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Object(Schema):
    """A JSON object; `name` makes it a reusable component of the document."""

    name: str
    props: Sequence[Prop]
    description: str = ""

    def json_schema(self, refs: dict[str, JsonSchema]) -> JsonSchema:
        if self.name not in refs:
            refs[self.name] = {}  # reserved first: a recursive reference terminates
            properties: JsonSchema = {}
            for prop in self.props:
                inner = prop.schema.json_schema(refs)
                if prop.nullable:
                    inner = {"anyOf": [inner, {"type": "null"}]}
                properties[prop.name] = inner
            schema: JsonSchema = {
                "type": "object",
                "properties": properties,
                "required": [p.name for p in self.props if p.required],
                "additionalProperties": False,
            }
            if not schema["required"]:
                del schema["required"]
            refs[self.name] = _describe(schema, self.description)
        return {"$ref": f"#/components/schemas/{self.name}"}

    def check(self, value: object, name: str, problems: list[Problem], *, values: bool) -> Any:
        prefix = f"{name}." if name else ""
        if not isinstance(value, dict):
            problems.append(Problem(name or "body", "must be a JSON object"))
            return self.neutral()
        known = {prop.name for prop in self.props}
        # An unknown field is most often a misspelt optional one: silently ignoring it would
        # drop what the caller meant to say.
        problems.extend(
            Problem(f"{prefix}{key}", "is not a known field") for key in value if key not in known
        )
        result: dict[str, Any] = {}
        for prop in self.props:
            field_name = f"{prefix}{prop.name}"
            raw = value.get(prop.name)
            if raw is None:
                if prop.required:
                    problems.append(Problem(field_name, "is required"))
                    result[prop.name] = prop.schema.neutral()
                else:
                    result[prop.name] = None
                continue
            result[prop.name] = prop.schema.check(raw, field_name, problems, values=values)
        return result

    def neutral(self) -> Any:
        return {p.name: p.schema.neutral() if p.required else None for p in self.props}


def covers(problem: Problem, reported: Sequence[Problem]) -> bool:
    """True when `problem` is about a field (or a part of one) that is already reported."""
    return any(
        problem.field == seen.field
        or problem.field.startswith((f"{seen.field}.", f"{seen.field}["))
        for seen in reported
    )


def merge_problems(first: Sequence[Problem], then: Sequence[Problem]) -> list[Problem]:
    """`first` plus the problems of `then` about fields `first` does not mention: one message
    per bad field even when two layers look at the same field."""
    merged = list(first)
    for problem in then:
        if not covers(problem, merged):
            merged.append(problem)
    return merged
