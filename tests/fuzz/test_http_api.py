"""Fuzzing the HTTP API with schemathesis, over real HTTP: `threadweaver api` (uvicorn, JWT
auth) + worker + projector processes on the embedded stack.

Every operation of /openapi.json gets generated requests, valid and invalid (schemathesis'
positive and negative modes); then stateful runs follow the document's links (create a
thread, act on it, read it back with `min_version`, remove the messages just added; run as
`tests.fuzz.live_chains` says, since a live system does not answer a replay the same). Every
answer must be documented (status, schema, content type) and none may be a 5xx. Finally,
no rejected command may have changed anything: one the API refused never reached Kafka, and
no refused command has an event in the journal.

THREADWEAVER_FUZZ_EXAMPLES / 20 examples per operation and stateful runs (25 by default).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from api.errors import HttpReason
from api.routes import ENDPOINTS
from pipeline.client.commands import new_id
from pipeline.codec import CodecError, decode_command, decode_event
from pipeline.domain import RejectionReason
from pipeline.domain.ids import is_ulid
from pipeline.settings import Settings
from tests.fuzz.broker import end_offsets, read_since
from tests.fuzz.generation import examples
from tests.fuzz.live_chains import Chaining, run_live
from tests.support.api import api_processes
from tests.support.auth import bearer
from tests.support.processes import Component
from tests.support.projector import ReadModel, create_read_model, drop_read_model

pytestmark = [pytest.mark.fuzz, pytest.mark.integration]

REQUEST_TIMEOUT_S = 90.0
# The account of the bearer token: most generated requests act as it (any other account_id
# is a 403 ACCOUNT_MISMATCH, which stops nothing deeper from being exercised).
ACCOUNT = new_id()
OWN_ACCOUNT_ONE_IN = 10  # one request in ten keeps the generated account_id
IDEMPOTENCY_KEY = "Idempotency-Key"
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
# Refusals of the API itself, before anything is produced to Kafka.
REFUSED_BY_API = {
    HttpReason.MALFORMED_JSON,
    HttpReason.UNSUPPORTED_MEDIA_TYPE,
    HttpReason.PAYLOAD_TOO_LARGE,
    HttpReason.MISSING_TOKEN,
    HttpReason.INVALID_TOKEN,
    HttpReason.ACCOUNT_MISMATCH,
    HttpReason.NOT_FOUND,
    HttpReason.METHOD_NOT_ALLOWED,
    RejectionReason.INVALID_COMMAND,  # the API checks the rules the worker checks
}


def per_operation() -> int:
    return max(1, examples() // 20)


@dataclass(frozen=True)
class Exchange:
    """A command request of the run and its answer."""

    operation: str
    key: str | None
    status: int
    reason: str | None


EXCHANGES: list[Exchange] = []


@dataclass(frozen=True)
class System:
    base_url: str
    settings: Settings
    components: tuple[Component, ...]
    # Where the commands topic and the journal ended before the first request.
    since: dict[str, dict[int, int]]


@pytest.fixture(scope="module")
def system(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    settings: Settings = stack.settings()
    logs = Path(tmp_path_factory.mktemp("fuzz-http"))
    model: ReadModel = create_read_model(settings, "fuzz")
    bootstrap, topics, partitions = settings.bootstrap_servers, settings.topics, settings.partitions
    since = {
        topic: end_offsets(bootstrap, topic, partitions)
        for topic in (topics.commands, topics.events)
    }
    try:
        with api_processes(
            settings,
            model,
            logs,
            THREADWEAVER_API_REPLY_TIMEOUT_S="60",
            # Short: a generated min_version far ahead of the thread waits the whole time.
            THREADWEAVER_API_MIN_VERSION_WAIT_S="1",
        ) as (base_url, processes):
            yield System(base_url, settings, tuple(processes), since)
    finally:
        drop_read_model(model, settings.pg_dsn or "")


def _mostly_own() -> st.SearchStrategy[bool]:
    # Hypothesis favours the simplest choice (0) inside flatmaps: let it mean "own".
    return st.integers(0, OWN_ACCOUNT_ONE_IN - 1).map(lambda n: n != OWN_ACCOUNT_ONE_IN - 1)


def _own_account(value: Any, own: bool) -> Any:
    if own and isinstance(value, dict):
        return {**value, "account_id": ACCOUNT}
    return value


def _prepared_headers(method: str, headers: dict[str, Any] | None, own: bool) -> Any:
    """Mostly the token of ACCOUNT (else the generated Authorization, if any: a bad token),
    and an Idempotency-Key on every command (a generated one is kept, even a bad one), so
    that its command id can be looked for in Kafka afterwards."""
    if headers is None:
        return None
    prepared = dict(headers)
    if own:
        prepared.update(bearer(ACCOUNT))
    if method.upper() == "POST":
        prepared.setdefault(IDEMPOTENCY_KEY, new_id())
    return prepared


@pytest.fixture(scope="module")
def api_schema(system: System) -> OpenApiSchema:
    schema = schemathesis.openapi.from_url(f"{system.base_url}/openapi.json")

    @schema.hook("flatmap_body")
    def own_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
        return _mostly_own().map(lambda own: _own_account(body, own))

    @schema.hook("flatmap_query")
    def own_query(context: schemathesis.HookContext, query: Any) -> st.SearchStrategy[Any]:
        return _mostly_own().map(lambda own: _own_account(query, own))

    @schema.hook("flatmap_headers")
    def own_token(context: schemathesis.HookContext, headers: Any) -> st.SearchStrategy[Any]:
        method = context.operation.method if context.operation is not None else "GET"
        return _mostly_own().map(lambda own: _prepared_headers(method, headers, own))

    return schema


def _record(case: Case[Any], response: schemathesis.Response) -> None:
    if case.method.upper() != "POST":
        return
    reason = None
    if 400 <= response.status_code < 500:
        try:
            body: Any = response.json()
            reason = body.get("reason")
        except (ValueError, AttributeError):
            reason = None
    headers: dict[str, Any] = dict(case.headers or {})
    key = headers.get(IDEMPOTENCY_KEY)
    EXCHANGES.append(
        Exchange(
            case.operation.label,
            key if isinstance(key, str) else None,
            response.status_code,
            reason,
        )
    )


# One test per operation of the route table (schemathesis' own pytest loader cannot take
# a schema from a fixture under pytest 9: it sets `Function._nodeid`, which is gone).
@pytest.mark.parametrize("operation_id", [endpoint.operation_id for endpoint in ENDPOINTS])
def test_every_operation_answers_as_documented(
    api_schema: OpenApiSchema, operation_id: str
) -> None:
    operation = api_schema.find_operation_by_id(operation_id)
    endpoint = next(e for e in ENDPOINTS if e.operation_id == operation_id)
    cases = operation.as_strategy(GenerationMode.POSITIVE)
    if endpoint.params or endpoint.body is not None:  # else nothing can be wrong
        cases = cases | operation.as_strategy(GenerationMode.NEGATIVE)

    @hypothesis.settings(
        max_examples=per_operation(),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @hypothesis.given(cases)
    def answers_as_documented(case: Case[Any]) -> None:
        response = case.call_and_validate(checks=CHECKS, timeout=REQUEST_TIMEOUT_S)
        _record(case, response)

    answers_as_documented()


def test_chained_calls_answer_as_documented(api_schema: OpenApiSchema) -> None:
    chaining = Chaining()

    class Chains(api_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"timeout": REQUEST_TIMEOUT_S}

        def step(self, input: StepInput) -> StepOutput:
            output: StepOutput = super().step(input)
            linked = input.transition is not None and input.is_applied
            chaining.step_answered(linked, output.response.status_code)
            return output

        def call(self, case: Case[Any], **kwargs: Any) -> schemathesis.Response:
            try:
                response: schemathesis.Response = super().call(case, **kwargs)
            except Exception as error:  # no answer (timeout, connection): a failure too
                chaining.failed(error)
                raise
            return response

        def after_call(self, response: schemathesis.Response, case: Case[Any]) -> None:
            super().after_call(response, case)
            _record(case, response)

        def validate_response(
            self, response: schemathesis.Response, case: Case[Any], **kwargs: Any
        ) -> None:
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as failures:
                chaining.failed(failures)
                raise

        def teardown(self) -> None:
            chaining.scenario_ended()
            super().teardown()

    run_live(Chains.run, chaining, scenarios=per_operation(), steps=10)
    print(
        f"http fuzz: {chaining.scenarios} chained scenarios, {chaining.linked_steps} calls "
        f"took a value from an earlier answer, {chaining.linked_successes} of them succeeded; "
        f"runs abandoned as flaky: {chaining.abandoned or 'none'}"
    )
    # Create a thread, then act on it: without this, the links were never followed.
    assert chaining.linked_successes, "no call on a linked resource succeeded"


def test_rejected_commands_changed_nothing(system: System) -> None:
    """Refused by the API: never produced to Kafka. Refused by the worker: no event."""
    assert EXCHANGES, "run the whole module: the two tests above make the requests"
    for component in system.components:
        assert component.alive(), component.log_tail()
    settings, since = system.settings, system.since
    bootstrap, topics, partitions = settings.bootstrap_servers, settings.topics, settings.partitions
    produced = set()
    for record in read_since(bootstrap, topics.commands, partitions, since[topics.commands]):
        try:
            produced.add(decode_command(record.value).command_id)
        except CodecError:
            continue  # other tests' bad records
    appended = set()
    for record in read_since(bootstrap, topics.events, partitions, since[topics.events]):
        try:
            appended.add(decode_event(record.value).command_id)
        except CodecError:
            continue

    by_key: dict[str, list[Exchange]] = {}
    for exchange in EXCHANGES:
        if exchange.key is not None and is_ulid(exchange.key):
            by_key.setdefault(exchange.key, []).append(exchange)
    refused = {k: e for k, e in by_key.items() if all(400 <= x.status < 500 for x in e)}
    by_api = {k: e for k, e in refused.items() if all(x.reason in REFUSED_BY_API for x in e)}
    by_worker = {k: e for k, e in refused.items() if k not in by_api}
    problems = [
        f"refused by the API but produced: {e[0]}" for k, e in by_api.items() if k in produced
    ]
    problems += [f"refused but has events: {e[0]}" for k, e in refused.items() if k in appended]
    answers = Counter((x.operation, x.status, x.reason) for x in EXCHANGES)
    print(
        f"http fuzz: {len(EXCHANGES)} command requests, {len(by_api)} refused by the API, "
        f"{len(by_worker)} by the worker; answers {sorted(answers.items(), key=str)}"
    )
    assert by_api, "no command refused by the API: the check above checked nothing"
    assert by_worker, "no command refused by the worker: the check above checked nothing"
    assert not problems, "\n".join(problems[:20])
