"""Identity and hostile input against the real app, its read model and Kafka: RS256 tokens,
`account_id` vs the token, invisible threads, the disabled mode, and SQL-injection /
path-traversal strings in every parameter of every route (a 4xx, the read model unchanged,
nothing produced to the commands topic).

The read model is a database of its own (rows inserted as the projector would write them);
no worker runs, so a command that wrongly got through would time out as a 5xx.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, SecretStr

from api.models import ULID_PATTERN
from api.routes import ENDPOINTS
from api.spec import Endpoint
from pipeline.client.commands import new_id
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.security import KafkaConnection
from pipeline.settings import AuthMode, AuthSettings, JwtAlgorithm, Settings
from tests.support.api import api_client, api_settings
from tests.support.auth import bearer, token_for
from tests.support.projector import ReadModel, create_read_model, drop_read_model

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

T0 = datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)
# Short: without a worker, a command that got through answers 504 after this.
REPLY_TIMEOUT_S = 1.0

# Strings that must never be anything but data or a 4xx.
HOSTILE = (
    "' OR 1=1 --",
    "'; DROP TABLE threads; --",
    "1 UNION SELECT id FROM threads",
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "\x00",
    "01KAB00000000000000000000A\x00",
    "01KAB00000000000000000000A' OR '1'='1",
    "x" * 20_000,
    "ünïcødé 🧵 ١٢٣",
    "-1",
    "99999999999999999999999999",
    "1e3",
    "$(id)",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "",
    " ",
)
# In free text (titles, remarks, messages) the strings above are legitimate content; these
# are not.
HOSTILE_TEXT: tuple[Any, ...] = ("x" * 20_000, "\ud800", 42, {"$gt": ""}, ["a"])


@pytest.fixture(scope="module")
def model(stack: Any) -> Iterator[ReadModel]:
    settings: Settings = stack.settings()
    read_model = create_read_model(settings, "api_auth")
    yield read_model
    drop_read_model(read_model, settings.pg_dsn or "")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def db(model: ReadModel) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(model.dsn)
    yield conn
    await conn.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def api(model: ReadModel) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings(model.settings, reply_timeout_s=REPLY_TIMEOUT_S)
    async with api_client(settings) as client:
        yield client


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[rsa.RSAPrivateKey, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public_pem


async def insert_thread(
    db: asyncpg.Connection, admin: str, members: list[str], title: str = "Lunch"
) -> str:
    thread = new_id()
    await db.execute(
        "INSERT INTO threads (id, creator_id, title, created_at, updated_at, version) "
        "VALUES ($1, $2, $3, $4, $4, 2)",
        thread,
        admin,
        title,
        T0,
    )
    await db.execute(
        "INSERT INTO thread_administrators (thread_id, account_id, joined_at) VALUES ($1, $2, $3)",
        thread,
        admin,
        T0,
    )
    await db.executemany(
        "INSERT INTO thread_members (thread_id, account_id, joined_at) VALUES ($1, $2, $3)",
        [(thread, m, T0) for m in members],
    )
    return thread


async def snapshot(db: asyncpg.Connection) -> dict[str, list[str]]:
    """Every row of every read-model table, as sorted JSON texts."""
    tables = await db.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
    )
    rows: dict[str, list[str]] = {}
    for table in tables:
        name = table["table_name"]
        texts = await db.fetch(f'SELECT to_jsonb(t)::text AS row FROM "{name}" AS t')
        rows[name] = sorted(r["row"] for r in texts)
    return rows


def commands_end(settings: Settings) -> dict[int, int]:
    return end_offsets(
        KafkaConnection.plaintext(settings.bootstrap_servers),
        settings.topics.commands,
        range(settings.partitions),
    )


async def test_rs256_tokens_of_the_issuer_read_the_read_model(
    model: ReadModel, db: asyncpg.Connection, rsa_keys: tuple[rsa.RSAPrivateKey, str]
) -> None:
    private, public_pem = rsa_keys
    admin, member, stranger = new_id(), new_id(), new_id()
    thread = await insert_thread(db, admin, [member])
    auth = AuthSettings(
        algorithm=JwtAlgorithm.RS256,
        key=SecretStr(public_pem),
        issuer="https://id.example",
        audience="threadweaver",
    )

    def token(account: str) -> dict[str, str]:
        claims = {
            "sub": account,
            "exp": int(time.time()) + 300,
            "iss": "https://id.example",
            "aud": "threadweaver",
        }
        return {"Authorization": f"Bearer {jwt.encode(claims, private, 'RS256')}"}

    async with api_client(api_settings(model.settings, auth=auth)) as http:
        response = await http.get(f"/v1/threads/{thread}", headers=token(member))
        assert response.status_code == 200, response.text
        assert response.json()["thread"]["id"] == thread
        listed = await http.get("/v1/threads", params={"account_id": admin}, headers=token(admin))
        assert [t["id"] for t in listed.json()["threads"]] == [thread]
        hidden = await http.get(f"/v1/threads/{thread}", headers=token(stranger))
        assert hidden.status_code == 404
        # The deployment's HS256 test tokens mean nothing to an RS256 deployment.
        assert (await http.get(f"/v1/threads/{thread}", headers=bearer(member))).status_code == 401


async def test_another_accounts_thread_stays_404(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin, stranger = new_id(), new_id()
    thread = await insert_thread(db, admin, [])
    missing = new_id()
    for suffix in ("", "/administrator-ids", "/member-ids", "/messages"):
        hidden = await api.get(f"/v1/threads/{thread}{suffix}", headers=bearer(stranger))
        assert hidden.status_code == 404, hidden.text
        assert hidden.json()["reason"] == "THREAD_NOT_FOUND"
        absent = await api.get(f"/v1/threads/{missing}{suffix}", headers=bearer(stranger))
        # "Not yours" and "missing" read the same.
        assert absent.json()["error_messages"][0].replace(missing, "T") == hidden.json()[
            "error_messages"
        ][0].replace(thread, "T")
        # Naming the administrator does not lend the stranger their view.
        borrowed = await api.get(
            f"/v1/threads/{thread}{suffix}", params={"account_id": admin}, headers=bearer(stranger)
        )
        assert (borrowed.status_code, borrowed.json()["reason"]) == (403, "ACCOUNT_MISMATCH")
    assert (await api.get("/v1/threads", headers=bearer(stranger))).json()["threads"] == []


async def test_account_mismatch_is_403_and_produces_nothing(
    api: httpx.AsyncClient, db: asyncpg.Connection, model: ReadModel
) -> None:
    admin, member = new_id(), new_id()
    thread = await insert_thread(db, admin, [member])
    before = commands_end(model.settings)
    query = await api.get(
        f"/v1/threads/{thread}/messages", params={"account_id": admin}, headers=bearer(member)
    )
    assert query.status_code == 403
    assert query.json()["reason"] == "ACCOUNT_MISMATCH"
    assert query.json()["error_messages"][0].startswith(f"account_id: {admin} is not")
    for path, body in [
        (f"/v1/threads/{thread}/destroy", {"account_id": admin}),
        (f"/v1/threads/{thread}/member-ids/join", {"account_id": admin, "account_ids": [member]}),
        (
            "/v1/threads/create",
            {"account_id": admin, "title": "t", "administrator_ids": [], "member_ids": []},
        ),
    ]:
        command = await api.post(path, json=body, headers=bearer(member))
        assert command.status_code == 403, command.text
        assert command.json()["reason"] == "ACCOUNT_MISMATCH"
        assert command.json()["error_messages"][0].startswith("account_id: ")
        # Unauthenticated and badly signed commands are not sent either.
        assert (await api.post(path, json=body)).status_code == 401
        forged = {"Authorization": f"Bearer {token_for(admin)[:-4]}AAAA"}
        assert (await api.post(path, json=body, headers=forged)).status_code == 401
    assert commands_end(model.settings) == before


async def test_disabled_mode_reads_as_the_stated_account(
    model: ReadModel, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    admin = new_id()
    thread = await insert_thread(db, admin, [])
    settings = api_settings(model.settings, auth=AuthSettings(mode=AuthMode.DISABLED))
    with caplog.at_level(logging.WARNING, logger="threadweaver.api"):
        async with api_client(settings) as http:
            response = await http.get(f"/v1/threads/{thread}", params={"account_id": admin})
            assert response.status_code == 200, response.text
            required = await http.get(f"/v1/threads/{thread}")
            assert required.status_code == 422
            assert required.json()["error_messages"] == ["account_id: is required"]
    assert any(
        r.levelno == logging.WARNING and "authentication is DISABLED" in r.getMessage()
        for r in caplog.records
    )


# The body models' fields, as their JSON schemas tell them (an optional field's null aside).
Schema = dict[str, Any]


def _fields(model: type[BaseModel]) -> dict[str, Schema]:
    document = model.model_json_schema()
    definitions = document.get("$defs", {})

    def resolved(schema: Schema) -> Schema:
        options = [o for o in schema.get("anyOf", [schema]) if o != {"type": "null"}]
        (schema,) = options
        if "$ref" in schema:
            schema = definitions[schema["$ref"].rsplit("/", 1)[1]]
        if schema.get("type") == "array":
            schema = {**schema, "items": resolved(schema["items"])}
        return schema

    return {name: resolved(field) for name, field in document["properties"].items()}


def _is_array(schema: Schema) -> bool:
    return schema.get("type") == "array"


def _ulid_like(schema: Schema) -> bool:
    return schema.get("pattern") == ULID_PATTERN


def _hostile_bodies(
    body: type[BaseModel], valid: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """`valid` with one field at a time replaced by a hostile value."""
    for name, schema in _fields(body).items():
        if _is_array(schema) and schema["items"].get("type") == "object":
            # messages: every field of a message, inside an otherwise valid one.
            for inner_name, field in schema["items"]["properties"].items():
                inner = next(o for o in field.get("anyOf", [field]) if o != {"type": "null"})
                values = HOSTILE_TEXT if not _ulid_like_any(inner) else HOSTILE
                for value in values:
                    item = {"text": "fine", inner_name: value}
                    yield f"{name}[0].{inner_name}", {**valid, name: [item]}
            values = HOSTILE
        elif _ulid_like_any(schema):
            values = HOSTILE
        else:
            values = HOSTILE_TEXT
        for value in values:
            yield name, {**valid, name: value}
            if _is_array(schema):
                yield f"{name}[0]", {**valid, name: [value]}


def _ulid_like_any(schema: Schema) -> bool:
    return _ulid_like(schema) or (_is_array(schema) and _ulid_like(schema["items"]))


def _valid_body(endpoint: Endpoint, account: str, message: str) -> dict[str, Any]:
    assert endpoint.body is not None
    valid: dict[str, Any] = {"account_id": account}
    for name, schema in _fields(endpoint.body).items():
        if name == "account_id":
            continue
        match name:
            case "title":
                valid[name] = "t"
            case "messages":
                valid[name] = [{"text": "hello"}]
            case "message_ids":
                valid[name] = [message]
            case _ if _is_array(schema):
                valid[name] = []
            case _:
                pass
    return valid


def _param_value(name: str, thread: str, account: str) -> str | None:
    return {"thread_id": thread, "account_id": account}.get(name)


async def _send(
    api: httpx.AsyncClient,
    endpoint: Endpoint,
    path_values: dict[str, str],
    query: dict[str, str],
    headers: dict[str, str | bytes],
    *,
    body: dict[str, Any] | None,
) -> httpx.Response:
    path = endpoint.path
    for name, value in path_values.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    if body is None:
        return await api.request(endpoint.method, path, params=query, headers=headers)
    # ensure_ascii: a lone surrogate travels as a JSON escape, as a hostile client would send it.
    content = json.dumps(body).encode()
    return await api.request(
        endpoint.method,
        path,
        params=query,
        headers={**headers, "Content-Type": "application/json"},
        content=content,
    )


async def test_hostile_strings_in_every_parameter_are_4xx_and_change_nothing(
    api: httpx.AsyncClient, db: asyncpg.Connection, model: ReadModel
) -> None:
    admin, member = new_id(), new_id()
    thread = await insert_thread(db, admin, [member])
    message = new_id()
    before_rows, before_commands = await snapshot(db), commands_end(model.settings)
    token = bearer(admin)
    answers: dict[int, int] = {}
    tried = 0

    async def expect_4xx(case: str, response: httpx.Response) -> None:
        nonlocal tried
        tried += 1
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
        assert set(response.json()) >= {"error_messages", "reason"}, case

    for endpoint in (e for e in ENDPOINTS if e.account_in is not None):
        base_path = {p.name: thread for p in endpoint.params if p.location == "path"}
        base_query = {
            p.name: value
            for p in endpoint.params
            if p.location == "query" and (value := _param_value(p.name, thread, admin))
        }
        body = _valid_body(endpoint, admin, message) if endpoint.body is not None else None
        for param in endpoint.params:
            for value in HOSTILE:
                case = f"{endpoint.method} {endpoint.path} {param.name}={value[:40]!r}"
                path_values, query = dict(base_path), dict(base_query)
                headers: dict[str, str | bytes] = dict(token)
                match param.location:
                    case "path":
                        path_values[param.name] = value
                    case "query":
                        query[param.name] = value
                    case "header":
                        headers[param.name] = value.encode()
                response = await _send(api, endpoint, path_values, query, headers, body=body)
                if param.name == "account_id" and value == "":
                    # An empty account_id is a 422, like any other malformed one.
                    assert response.status_code == 422, case
                await expect_4xx(case, response)
        if endpoint.body is not None:
            assert body is not None
            for field, hostile in _hostile_bodies(endpoint.body, body):
                case = f"{endpoint.method} {endpoint.path} body {field}={str(hostile)[:40]!r}"
                response = await _send(api, endpoint, base_path, {}, dict(token), body=hostile)
                await expect_4xx(case, response)
        # Without a token, the same routes answer 401 whatever the input.
        for value in HOSTILE[:3]:
            anonymous = await _send(
                api, endpoint, {**base_path, "thread_id": value}, {"cursor": value}, {}, body=body
            )
            await expect_4xx(f"{endpoint.path} anonymous", anonymous)
            assert anonymous.status_code == 401

    assert tried > 1000
    # 400: a lone surrogate in a JSON body.
    assert set(answers) <= {400, 401, 404, 422}, answers
    assert await snapshot(db) == before_rows
    assert commands_end(model.settings) == before_commands
    # The thread is still there, unchanged, for its administrator.
    still = await api.get(f"/v1/threads/{thread}", headers=token)
    assert still.json()["thread"]["version"] == 2


async def test_hostile_text_is_only_data(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    admin = new_id()
    title = "'; DROP TABLE threads; -- ../../etc/passwd 🧵"
    thread = await insert_thread(db, admin, [], title=title)
    response = await api.get(f"/v1/threads/{thread}", headers=bearer(admin))
    assert response.json()["thread"]["title"] == title
    listed = await api.get("/v1/threads", headers=bearer(admin))
    assert [t["title"] for t in listed.json()["threads"]] == [title]
