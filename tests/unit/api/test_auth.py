"""Bearer tokens at the HTTP layer, in-process and before any handler: which tokens pass, what
every refusal looks like, and how `account_id` relates to the token. No lifespan runs: a
request that gets past authentication ends at the request checks (422) here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from api.app import create_app
from api.auth import TokenVerifier
from api.errors import ApiError
from pipeline.settings import ApiSettings, AuthMode, AuthSettings, JwtAlgorithm, Settings
from tests.support.auth import TEST_JWT_KEY, auth_settings, bearer, token_for
from tests.support.builders import ALICE, BOB, THREAD

pytestmark = pytest.mark.unit

QUERY = f"/v1/threads/{THREAD}"
COMMAND = f"/v1/threads/{THREAD}/destroy"
# Requests that fail the request checks: reaching them means authentication passed.
PAST_AUTH = 422


@asynccontextmanager
async def serving(auth: AuthSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(api=ApiSettings(auth=auth)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


Headers = dict[str, str] | dict[str, bytes]


async def query(http: httpx.AsyncClient, headers: Headers, **params: str) -> httpx.Response:
    return await http.get(QUERY, params={"min_version": "-1", **params}, headers=headers)


async def command(http: httpx.AsyncClient, headers: Headers, **body: Any) -> httpx.Response:
    return await http.post(COMMAND, json={"colour": "red", **body}, headers=headers)


def refused(response: httpx.Response, reason: str = "INVALID_TOKEN") -> str:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    body = response.json()
    assert set(body) == {"error_messages", "reason"}
    assert body["reason"] == reason, body
    (message,) = body["error_messages"]
    return str(message)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A token built by hand, for what PyJWT refuses to make (alg none, HS256 with a PEM)."""
    head = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return head + "." + b64url(sign(head.encode()))


def claims_of(account: str, **extra: Any) -> dict[str, Any]:
    return {"sub": account, "exp": int(time.time()) + 600, **extra}


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[rsa.RSAPrivateKey, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public_pem


def rs256_settings(public_pem: str, **fields: Any) -> AuthSettings:
    return AuthSettings(algorithm=JwtAlgorithm.RS256, key=SecretStr(public_pem), **fields)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with serving(auth_settings()) as client:
        yield client


async def test_a_valid_token_gets_past_authentication(http: httpx.AsyncClient) -> None:
    assert (await query(http, bearer(ALICE))).status_code == PAST_AUTH
    assert (await command(http, bearer(ALICE))).status_code == PAST_AUTH
    # The scheme is case-insensitive (RFC 7235).
    lower = {"Authorization": f"bearer {token_for(ALICE)}"}
    assert (await query(http, lower)).status_code == PAST_AUTH


async def test_without_a_token_every_v1_route_is_401_and_the_operations_are_public(
    http: httpx.AsyncClient,
) -> None:
    message = refused(await query(http, {}), "MISSING_TOKEN")
    assert "Authorization: Bearer" in message
    refused(await command(http, {}), "MISSING_TOKEN")
    refused(await http.get("/v1/threads"), "MISSING_TOKEN")
    # Not even the body is looked at: unparsable JSON is still a 401.
    refused(
        await http.post(COMMAND, content=b"{nope", headers={"Content-Type": "application/json"}),
        "MISSING_TOKEN",
    )
    for path in ("/healthz", "/openapi.json", "/docs", "/metrics"):
        assert (await http.get(path)).status_code == 200, path


@pytest.mark.parametrize(
    "header",
    [
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer",
        "Bearer   ",
        "Token abc",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer ....",
        "Bearer \u00e9t\u00e9".encode("latin-1"),
        f"Bearer {'x' * 10_000}",
    ],
)
async def test_a_garbled_authorization_header_is_401(
    http: httpx.AsyncClient, header: str | bytes
) -> None:
    refused(await query(http, {"Authorization": header}))
    refused(await command(http, {"Authorization": header}))


async def test_a_token_of_another_key_is_401(http: httpx.AsyncClient) -> None:
    forged = jwt.encode(claims_of(ALICE), "another-key-of-the-same-length-0123456789ab", "HS256")
    assert "Signature verification failed" in refused(
        await query(http, {"Authorization": f"Bearer {forged}"})
    )
    # A valid token with one character of its signature changed.
    token = token_for(ALICE)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    refused(await command(http, {"Authorization": f"Bearer {tampered}"}))
    # A valid signature over other claims.
    head, _, signature = token_for(ALICE).split(".")
    other = b64url(json.dumps(claims_of(BOB)).encode())
    refused(await query(http, {"Authorization": f"Bearer {head}.{other}.{signature}"}))


async def test_expired_and_not_yet_valid_tokens_are_401(http: httpx.AsyncClient) -> None:
    now = int(time.time())
    # Beyond the 30 s leeway.
    expired = refused(await query(http, bearer(ALICE, exp=now - 120)))
    assert "expired" in expired
    refused(await command(http, bearer(ALICE, iat=now - 7200, exp=now - 3600)))
    refused(await query(http, bearer(ALICE, nbf=now + 3600)))
    # Within the leeway, a just-expired token still passes (clock skew).
    assert (await query(http, bearer(ALICE, exp=now - 5))).status_code == PAST_AUTH


async def test_required_claims(http: httpx.AsyncClient) -> None:
    assert "exp" in refused(await query(http, bearer(ALICE, exp=None)))
    refused(await query(http, {"Authorization": f"Bearer {token_for(ALICE, sub=None)}"}))
    for sub in ("alice", ALICE.lower(), "", 42):
        refused(await query(http, bearer(ALICE, sub=sub)))


async def test_alg_none_is_401(http: httpx.AsyncClient) -> None:
    for alg in ("none", "None", "NONE"):
        unsigned = handmade({"alg": alg, "typ": "JWT"}, claims_of(ALICE), lambda _: b"")
        refused(await query(http, {"Authorization": f"Bearer {unsigned}"}))
        refused(await command(http, {"Authorization": f"Bearer {unsigned}"}))


async def test_a_token_of_another_algorithm_is_401(
    http: httpx.AsyncClient, rsa_keys: tuple[rsa.RSAPrivateKey, str]
) -> None:
    private, _ = rsa_keys
    rs256 = jwt.encode(claims_of(ALICE), private, "RS256")
    assert "alg" in refused(await query(http, {"Authorization": f"Bearer {rs256}"}))
    hs512 = jwt.encode(claims_of(ALICE), TEST_JWT_KEY * 2, "HS512")
    refused(await query(http, {"Authorization": f"Bearer {hs512}"}))


async def test_rs256_accepts_the_issuers_tokens_only(
    rsa_keys: tuple[rsa.RSAPrivateKey, str],
) -> None:
    private, public_pem = rsa_keys
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with serving(rs256_settings(public_pem)) as http:
        valid = jwt.encode(claims_of(ALICE), private, "RS256")
        assert (await query(http, {"Authorization": f"Bearer {valid}"})).status_code == PAST_AUTH
        assert (await command(http, {"Authorization": f"Bearer {valid}"})).status_code == (
            PAST_AUTH
        )
        forged = jwt.encode(claims_of(ALICE), stranger, "RS256")
        refused(await query(http, {"Authorization": f"Bearer {forged}"}))
        # Key confusion: HS256 "signed" with the public key (which anyone has) as the secret.
        confused = handmade(
            {"alg": "HS256", "typ": "JWT"},
            claims_of(ALICE),
            lambda data: hmac.new(public_pem.encode(), data, hashlib.sha256).digest(),
        )
        assert "alg" in refused(await query(http, {"Authorization": f"Bearer {confused}"}))
        refused(await command(http, {"Authorization": f"Bearer {confused}"}))
        refused(await query(http, bearer(ALICE)))  # the HS256 test key means nothing here
        unsigned = handmade({"alg": "none"}, claims_of(ALICE), lambda _: b"")
        refused(await query(http, {"Authorization": f"Bearer {unsigned}"}))


async def test_issuer_and_audience_are_checked_when_set() -> None:
    auth = AuthSettings(
        key=SecretStr(TEST_JWT_KEY), issuer="https://id.example", audience="threadweaver"
    )
    async with serving(auth) as http:
        good = {"iss": "https://id.example", "aud": "threadweaver"}
        assert (await query(http, bearer(ALICE, **good))).status_code == PAST_AUTH
        assert (
            await query(http, bearer(ALICE, iss="https://id.example", aud=["x", "threadweaver"]))
        ).status_code == PAST_AUTH
        wrong_issuer = bearer(ALICE, **{**good, "iss": "evil"})
        assert "issuer" in refused(await query(http, wrong_issuer)).lower()
        wrong_audience = bearer(ALICE, **{**good, "aud": "other"})
        assert "audience" in refused(await query(http, wrong_audience)).lower()
        assert "iss" in refused(await query(http, bearer(ALICE, aud="threadweaver")))
        assert "aud" in refused(await query(http, bearer(ALICE, iss="https://id.example")))
    # Without a configured audience, a token meant for another audience is still refused.
    async with serving(auth_settings()) as http:
        elsewhere = bearer(ALICE, aud="another-service")
        assert "audience" in refused(await query(http, elsewhere)).lower()


async def test_account_id_defaults_to_the_token_and_may_only_repeat_it(
    http: httpx.AsyncClient,
) -> None:
    # Absent, or the token's own account: past the identity check (then 422, see PAST_AUTH).
    assert (await query(http, bearer(ALICE))).status_code == PAST_AUTH
    assert (await query(http, bearer(ALICE), account_id=ALICE)).status_code == PAST_AUTH
    assert (await command(http, bearer(ALICE), account_id=ALICE)).status_code == PAST_AUTH

    for response in (
        await query(http, bearer(ALICE), account_id=BOB),
        await command(http, bearer(ALICE), account_id=BOB),
        await http.get("/v1/threads", params={"account_id": BOB}, headers=bearer(ALICE)),
    ):
        assert response.status_code == 403, response.text
        body = response.json()
        assert body["reason"] == "ACCOUNT_MISMATCH"
        assert body["error_messages"][0].startswith(f"account_id: {BOB} is not the account")

    # A malformed account_id is a field problem, not a mismatch.
    malformed = await http.get("/v1/threads", params={"account_id": "bob"}, headers=bearer(ALICE))
    assert malformed.status_code == 422
    assert malformed.json()["error_messages"] == [
        "account_id: must be a ULID (26 Crockford base32 characters)"
    ]


async def test_disabled_mode_warns_and_requires_account_id(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.WARNING, logger="threadweaver.api"):
        async with serving(AuthSettings(mode=AuthMode.DISABLED)) as http:
            missing = await http.get("/v1/threads/create", headers={"Authorization": "Bearer junk"})
            assert missing.status_code == 422  # the token is ignored, not refused
            assert "account_id: is required" in missing.json()["error_messages"]
            stated = await http.get(QUERY, params={"account_id": BOB, "min_version": "-1"})
            assert stated.json()["error_messages"] == ["min_version: must be an integer >= 0"]
            body = await http.post(f"/v1/threads/{THREAD}/member-ids/join", json={})
            assert body.json()["error_messages"] == [
                "account_ids: is required",
                "account_id: is required",
            ]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("authentication is DISABLED" in r.getMessage() for r in warnings)
    assert "AUTHENTICATION IS DISABLED" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (AuthSettings(), "THREADWEAVER_API_JWT_KEY nor THREADWEAVER_API_JWT_KEY_FILE is set"),
        (
            AuthSettings(key=SecretStr("short")),
            "THREADWEAVER_API_JWT_KEY must be at least 32 bytes",
        ),
        (
            AuthSettings(algorithm=JwtAlgorithm.RS256, key=SecretStr(TEST_JWT_KEY)),
            "RSA public key in PEM",
        ),
    ],
)
def test_the_app_refuses_to_start_without_a_usable_key(auth: AuthSettings, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_app(Settings(api=ApiSettings(auth=auth)))


def test_a_key_read_from_a_file_is_named_by_its_file_variable(tmp_path: Path) -> None:
    key_file = tmp_path / "jwt"
    key_file.write_text("x" * 20 + "\n")
    auth = AuthSettings(key_file=key_file)
    with pytest.raises(ValueError, match="THREADWEAVER_API_JWT_KEY_FILE must be at least 32 bytes"):
        create_app(Settings(api=ApiSettings(auth=auth)))


def test_key_confusion_is_refused_at_start(rsa_keys: tuple[rsa.RSAPrivateKey, str]) -> None:
    private, public_pem = rsa_keys
    # The public key configured as an HS256 secret would let anyone sign.
    with pytest.raises(ValueError, match="asymmetric key, not an HS256 secret"):
        create_app(Settings(api=ApiSettings(auth=AuthSettings(key=SecretStr(public_pem)))))
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(ValueError, match="a private key does not belong in the API"):
        create_app(Settings(api=ApiSettings(auth=rs256_settings(private_pem))))
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    small_pem = small.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(ValueError, match="1024-bit RSA key"):
        create_app(Settings(api=ApiSettings(auth=rs256_settings(small_pem))))


def test_the_verifier_answers_the_tokens_account(rsa_keys: tuple[rsa.RSAPrivateKey, str]) -> None:
    assert TokenVerifier(auth_settings()).account_of(token_for(BOB)) == BOB
    private, public_pem = rsa_keys
    token = jwt.encode(claims_of(ALICE), private, "RS256")
    assert TokenVerifier(rs256_settings(public_pem)).account_of(token) == ALICE


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    """Verified tokens are remembered (issue 7), but never past their expiry."""
    verifier = TokenVerifier(auth_settings().replaced(leeway_s=0))
    expires = int(time.time()) + 2
    token = token_for(BOB, exp=expires)
    assert verifier.account_of(token) == BOB
    assert verifier.account_of(token) == BOB  # remembered
    while time.time() <= expires:  # waiting out a real expiry, not synchronising
        time.sleep(0.1)
    with pytest.raises(ApiError) as refused_error:
        verifier.account_of(token)
    assert refused_error.value.status == 401


def test_a_changed_signature_is_never_a_remembered_token() -> None:
    verifier = TokenVerifier(auth_settings())
    token = token_for(BOB)
    assert verifier.account_of(token) == BOB
    head, payload, signature = token.split(".")
    forged = ".".join([head, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")])
    with pytest.raises(ApiError) as refused_error:
        verifier.account_of(forged)
    assert refused_error.value.status == 401
