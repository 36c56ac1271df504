"""Who is calling: the bearer token of every /v1 request, verified in one place.

A token is a JWT signed with the deployment's one algorithm (HS256 with a shared secret, or
RS256 with the issuer's public key); its `sub` is the caller's account. The algorithm comes
from the settings, never from the token, so neither `alg: none` nor an HS256 token signed
with the RS256 public key as its secret can pass. docs/adr/0008-api-authentication.md.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import cast

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import HMACAlgorithm
from starlette.requests import Request

from api.errors import ApiError, HttpReason
from pipeline.domain import Problem
from pipeline.domain.ids import is_ulid
from pipeline.settings import AuthMode, AuthSettings
from pipeline.settings import JwtAlgorithm as Alg
from pipeline.settings.api import AUTH_MODE_ENV, JWT_KEY_ENV, JWT_KEY_FILE_ENV

log = logging.getLogger("threadweaver.api")

# RFC 7518 §3.2: an HS256 key must be at least as long as the hash (256 bits).
HS256_KEY_MIN_BYTES = 32
RSA_KEY_MIN_BITS = 2048
# Verified tokens remembered (token -> account until its expiry): clients send the same token
# with every request, and verifying it again cost ~230 us (HS256) to ~510 us (RS256) per
# request, a large share of a query's budget (issue 7). The key is the whole token, signature
# included, so a changed token is always verified afresh.
VERIFIED_CACHE_MAX = 10_000
CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
ACCOUNT_FIELD = "account_id"

DISABLED_BANNER = f"""
{"!" * 78}
!!  AUTHENTICATION IS DISABLED ({AUTH_MODE_ENV}=disabled)
!!  Any caller can act as ANY account by naming it in `account_id`.
!!  For local development only: never expose this API to anyone else.
{"!" * 78}
"""


def _unauthenticated(reason: HttpReason, message: str) -> ApiError:
    return ApiError(401, reason, [message], headers=CHALLENGE)


def verification_key(settings: AuthSettings) -> bytes | RSAPublicKey:
    """The key, checked once at start: a wrong one must stop the API, not every request."""
    if settings.key is None:
        raise ValueError(
            f"{AUTH_MODE_ENV} is jwt but neither {JWT_KEY_ENV} nor {JWT_KEY_FILE_ENV} is set: "
            f"give the {settings.algorithm} key, or set {AUTH_MODE_ENV}=disabled "
            "(development only)"
        )
    text, name = settings.key.get_secret_value(), settings.key_env
    match settings.algorithm:
        case Alg.HS256:
            secret = text.encode()
            try:
                # Refuses PEM and SSH keys: an RS256 public key is public, so a deployment
                # that used one as an HMAC secret would accept tokens signed by anyone.
                HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret)
            except jwt.InvalidKeyError as exc:
                raise ValueError(
                    f"{name} holds an asymmetric key, not an HS256 secret "
                    "(for RS256 set THREADWEAVER_API_JWT_ALGORITHM=RS256)"
                ) from exc
            if len(secret) < HS256_KEY_MIN_BYTES:
                raise ValueError(
                    f"{name} must be at least {HS256_KEY_MIN_BYTES} bytes for HS256, "
                    f"got {len(secret)}"
                )
            return secret
        case Alg.RS256:
            try:
                public = load_pem_public_key(text.encode())
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"{name} must be the token issuer's RSA public key in PEM "
                    "(-----BEGIN PUBLIC KEY-----); a private key does not belong in the API"
                ) from exc
            if not isinstance(public, RSAPublicKey):
                raise ValueError(f"{name} is not an RSA public key")
            if public.key_size < RSA_KEY_MIN_BITS:
                raise ValueError(
                    f"{name} is a {public.key_size}-bit RSA key; at least "
                    f"{RSA_KEY_MIN_BITS} bits are required"
                )
            return public


class TokenVerifier:
    """Checks a token's signature, expiry, issuer and audience; answers its account."""

    def __init__(self, settings: AuthSettings, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._verified: dict[str, tuple[str, float]] = {}
        self._key = verification_key(settings)
        self._algorithms = [settings.algorithm.value]  # exactly one, from the settings
        self._issuer = settings.issuer
        self._audience = settings.audience
        self._leeway = settings.leeway_s
        required = ["exp", "sub"]
        required += ["iss"] if settings.issuer is not None else []
        required += ["aud"] if settings.audience is not None else []
        self._required = required

    def account_of(self, token: str) -> str:
        remembered = self._verified.get(token)
        if remembered is not None:
            account, valid_until = remembered
            if self._clock() < valid_until:
                return account
            del self._verified[token]
        account, expires_at = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_MAX:
            self._verified.clear()
        # Accepted exactly as long as jwt.decode would accept it: until exp + leeway.
        self._verified[token] = (account, expires_at + self._leeway)
        return account

    def _verify(self, token: str) -> tuple[str, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": self._required},
            )
        except jwt.PyJWTError as exc:
            raise _unauthenticated(
                HttpReason.INVALID_TOKEN, f"the bearer token is not valid: {exc}"
            ) from exc
        account = claims["sub"]
        if not isinstance(account, str) or not is_ulid(account):
            raise _unauthenticated(
                HttpReason.INVALID_TOKEN,
                "the bearer token's sub must be an account id (a ULID)",
            )
        return account, float(claims["exp"])


class Authenticator:
    """The app's one way to learn the caller; `None` as the caller means auth is disabled."""

    def __init__(self, settings: AuthSettings) -> None:
        match settings.mode:
            case AuthMode.JWT:
                self._verifier: TokenVerifier | None = TokenVerifier(settings)
            case AuthMode.DISABLED:
                self._verifier = None
                announce_disabled()

    @property
    def enabled(self) -> bool:
        return self._verifier is not None

    def caller(self, request: Request) -> str | None:
        """The account of the request's bearer token (401 without a valid one)."""
        if self._verifier is None:
            return None
        header = request.headers.get("authorization")
        if header is None:
            raise _unauthenticated(
                HttpReason.MISSING_TOKEN,
                "a bearer token is required: send the header Authorization: Bearer <JWT>",
            )
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated(
                HttpReason.INVALID_TOKEN,
                "the Authorization header must be `Bearer <JWT>`",
            )
        return self._verifier.account_of(token)


def announce_disabled() -> None:
    """Loud on every start: a disabled API believes whatever account a caller names."""
    print(DISABLED_BANNER, file=sys.stderr, flush=True)
    log.warning(
        "authentication is DISABLED (%s=disabled): any caller can act as any account; "
        "development only",
        AUTH_MODE_ENV,
    )


def authenticator(request: Request) -> Authenticator:
    return cast(Authenticator, request.app.state.authenticator)


def acting_account(stated: object, caller: str | None, problems: list[Problem]) -> str:
    """The account a request acts as: the token's, which `account_id` may only repeat.

    Without authentication (disabled mode) `account_id` is the only source and required.
    """
    if caller is None:
        if stated is None:
            problems.append(Problem(ACCOUNT_FIELD, "is required"))
            return ""
        return str(stated)
    if stated is None:
        return caller
    # A malformed id is the field checks' business (422); a different account is not yours.
    if isinstance(stated, str) and is_ulid(stated) and stated != caller:
        raise ApiError(
            403,
            HttpReason.ACCOUNT_MISMATCH,
            [
                f"{ACCOUNT_FIELD}: {stated} is not the account of the bearer token; "
                f"leave {ACCOUNT_FIELD} out to act as the token's account"
            ],
        )
    return str(stated)
