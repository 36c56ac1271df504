"""Bearer tokens for tests: one HS256 key shared by the tests and the APIs they start.

`api_auth_env()` is the environment an API (process or in-process app) needs to accept the
tokens of `token_for()`; `bearer()` is the Authorization header for an account.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from pipeline.settings import AuthSettings
from pipeline.settings.api import API_PREFIX

# Tests only; 48 bytes, more than the 32 HS256 asks for (RFC 7518 §3.2).
TEST_JWT_KEY = "threadweaver-tests-only-hs256-key-not-a-secret!!"
TEST_JWT_ALGORITHM = "HS256"
TOKEN_TTL_S = 3600


def token_for(account_id: str, **claims: Any) -> str:
    """A token of `account_id` signed with the test key, valid for an hour.

    `claims` add or override claims (`exp=...`, `iss=...`); a claim given as None is left
    out (`exp=None`: a token without expiry).
    """
    now = int(time.time())
    payload: dict[str, Any] = {"sub": account_id, "iat": now, "exp": now + TOKEN_TTL_S}
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, TEST_JWT_KEY, algorithm=TEST_JWT_ALGORITHM)


def bearer(account_id: str, **claims: Any) -> dict[str, str]:
    """The Authorization header of `account_id` (claims as for `token_for`)."""
    return {"Authorization": f"Bearer {token_for(account_id, **claims)}"}


def auth_settings() -> AuthSettings:
    """The auth settings of an in-process app (`ApiSettings(auth=auth_settings())`)."""
    return AuthSettings.from_env(api_auth_env())


def api_auth_env() -> dict[str, str]:
    """The THREADWEAVER_API_* variables that make an API accept `token_for`'s tokens."""
    return {
        API_PREFIX + "AUTH_MODE": "jwt",
        API_PREFIX + "JWT_ALGORITHM": TEST_JWT_ALGORITHM,
        API_PREFIX + "JWT_KEY": TEST_JWT_KEY,
    }
