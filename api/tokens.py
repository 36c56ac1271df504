"""Minting tokens with the deployment's HS256 key: for development (`threadweaver api token`,
the demo of `make run`) and benchmarks. Production tokens come from an identity provider;
with RS256 the API holds only its public key, which cannot sign.
"""

from __future__ import annotations

import time

import jwt

from api.auth import verification_key
from pipeline.domain.ids import is_ulid
from pipeline.settings import AuthSettings, JwtAlgorithm
from pipeline.settings.api import JWT_ALGORITHM_ENV

DEFAULT_TTL_S = 3600


def mint(settings: AuthSettings, account_id: str, ttl_s: int = DEFAULT_TTL_S) -> str:
    """A token of `account_id` that the API configured with `settings` accepts."""
    if settings.algorithm is not JwtAlgorithm.HS256:
        raise ValueError(
            f"{JWT_ALGORITHM_ENV} is {settings.algorithm}: the API holds only the token "
            "issuer's public key, which cannot sign; get tokens from the issuer"
        )
    if not is_ulid(account_id):
        raise ValueError(f"the account id must be a ULID, got {account_id!r}")
    if ttl_s < 1:
        raise ValueError(f"the lifetime must be at least 1 s, got {ttl_s}")
    key = verification_key(settings)  # the same checks as the API's: no token it would refuse
    assert isinstance(key, bytes)
    now = int(time.time())
    claims: dict[str, object] = {"sub": account_id, "iat": now, "exp": now + ttl_s}
    if settings.issuer is not None:
        claims["iss"] = settings.issuer
    if settings.audience is not None:
        claims["aud"] = settings.audience
    return jwt.encode(claims, key, algorithm=JwtAlgorithm.HS256.value)
