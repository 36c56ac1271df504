"""Bearer tokens for the bench: the API runs with authentication on, as deployed (ADR 0008),
so every measured request pays for verifying a token."""

from __future__ import annotations

import functools

from api.tokens import mint
from pipeline.settings import AuthSettings
from pipeline.settings.api import AUTH_MODE_ENV, JWT_ALGORITHM_ENV, JWT_KEY_ENV

# Only ever given to the bench's own API process, on loopback; 48 bytes (HS256 wants >= 32).
BENCH_JWT_KEY = "threadweaver-bench-only-hs256-key-not-a-secret!!"


def api_auth_env() -> dict[str, str]:
    """What makes the API accept `bearer`'s tokens."""
    return {AUTH_MODE_ENV: "jwt", JWT_ALGORITHM_ENV: "HS256", JWT_KEY_ENV: BENCH_JWT_KEY}


@functools.cache
def _settings() -> AuthSettings:
    return AuthSettings.from_env(api_auth_env())


def bearer(account_id: str) -> str:
    """The Authorization header value of `account_id` (valid for an hour)."""
    return f"Bearer {mint(_settings(), account_id)}"
