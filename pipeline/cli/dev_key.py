"""The development signing key of an embedded stack: a random HS256 secret generated once into
the data directory (mode 0600), so that `threadweaver run` serves the API WITH
authentication and `threadweaver api token` can mint tokens for it.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from pipeline.settings import AuthMode, AuthSettings, JwtAlgorithm
from pipeline.settings.api import AUTH_MODE_ENV, JWT_ALGORITHM_ENV, JWT_KEY_FILE_ENV
from pipeline.stack.layout import Layout, default_data_dir

DEV_KEY_NAME = "api-jwt.key"
# 64 bytes of randomness: twice what HS256 asks for.
DEV_KEY_BYTES = 64


def dev_key_file(data_dir: Path | str) -> Path:
    return Layout.of(data_dir).root / DEV_KEY_NAME


def ensure_dev_key(data_dir: Path | str) -> Path:
    """The key file of `data_dir`, created on first use; readable by its owner only."""
    path = dev_key_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two starts racing never overwrite each other's key (tokens would break).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
        return path
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(DEV_KEY_BYTES) + "\n")
    return path


def dev_auth_env(key_file: Path) -> dict[str, str]:
    """The API environment that verifies tokens signed with the development key."""
    return {AUTH_MODE_ENV: "jwt", JWT_ALGORITHM_ENV: "HS256", JWT_KEY_FILE_ENV: str(key_file)}


def token_settings(data_dir: Path | str | None) -> AuthSettings:
    """The auth settings to mint tokens with: the configured key (the API's), else the
    development key of the local stack's data dir when it has one."""
    auth = AuthSettings.from_env()
    if auth.key is None:
        key_file = dev_key_file(data_dir if data_dir is not None else default_data_dir())
        if key_file.exists():
            auth = auth.replaced(mode=AuthMode.JWT, algorithm=JwtAlgorithm.HS256, key_file=key_file)
    return auth
