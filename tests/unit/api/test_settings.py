"""THREADWEAVER_API_* settings (the `api` section of the settings tree)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import AuthMode, JwtAlgorithm, Settings

pytestmark = pytest.mark.unit


def test_defaults() -> None:
    settings = Settings.from_env({}).api
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.min_version_wait_s == 2.0
    assert settings.body_limit_bytes == 1_048_576
    assert settings.reply_partition is None


def test_environment_round_trip() -> None:
    env = {
        "THREADWEAVER_API_PORT": "9000",
        "THREADWEAVER_API_WORKERS": "4",
        "THREADWEAVER_API_MIN_VERSION_WAIT_S": "0.5",
        "THREADWEAVER_API_REPLY_TIMEOUT_S": "3",
        "THREADWEAVER_API_REPLY_PARTITION": "2",
        "THREADWEAVER_API_ACCESS_LOG": "true",
        "THREADWEAVER_PG_DSN": "postgresql://x/y",
    }
    tree = Settings.from_env(env)
    settings = tree.api
    assert settings.port == 9000
    assert settings.workers == 4
    assert settings.min_version_wait_s == 0.5
    assert settings.reply_partition == 2
    assert settings.access_log
    assert tree.pg_dsn == "postgresql://x/y"
    assert Settings.from_env({**tree.to_env(), **settings.to_env()}) == tree


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "http", "THREADWEAVER_API_PORT must be a number"),
        ("WORKERS", "0", "THREADWEAVER_API_WORKERS must be >= 1"),
        ("REPLY_PARTITION", "4", "THREADWEAVER_API_REPLY_PARTITION must be < "),
        ("POOL_MIN_SIZE", "50", r"THREADWEAVER_API_POOL_MAX_SIZE \(10\) must be >="),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env({f"THREADWEAVER_API_{name}": value})


def test_auth_defaults_to_jwt_hs256_without_a_key() -> None:
    auth = Settings.from_env({}).api.auth
    assert (auth.mode, auth.algorithm, auth.key) == (AuthMode.JWT, JwtAlgorithm.HS256, None)
    assert (auth.issuer, auth.audience, auth.leeway_s) == (None, None, 30.0)


def test_auth_environment_round_trip_and_the_key_never_shows(tmp_path: Path) -> None:
    secret = "s3cret-" * 8
    env = {
        "THREADWEAVER_API_AUTH_MODE": "JWT",
        "THREADWEAVER_API_JWT_ALGORITHM": "hs256",
        "THREADWEAVER_API_JWT_KEY": secret,
        "THREADWEAVER_API_JWT_ISSUER": "https://id.example",
        "THREADWEAVER_API_JWT_AUDIENCE": "threadweaver",
        "THREADWEAVER_API_JWT_LEEWAY_S": "5",
    }
    settings = Settings.from_env(env).api
    auth = settings.auth
    assert auth.key is not None
    assert auth.key.get_secret_value() == secret
    assert (auth.issuer, auth.audience, auth.leeway_s) == ("https://id.example", "threadweaver", 5)
    assert Settings.from_env(settings.to_env()).api == settings
    assert secret not in repr(settings)
    assert secret not in str(auth.key)
    assert secret not in f"{auth.key}"

    # From a file (a mounted Secret): passed on as the file, trailing newline dropped.
    key_file = tmp_path / "jwt.key"
    key_file.write_text(secret + "\n")
    from_file = Settings.from_env({"THREADWEAVER_API_JWT_KEY_FILE": str(key_file)}).api
    assert from_file.auth.key == auth.key
    assert from_file.auth.key_env == "THREADWEAVER_API_JWT_KEY_FILE"
    assert secret not in "".join(from_file.to_env().values())
    assert Settings.from_env(from_file.to_env()).api == from_file


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AUTH_MODE": "off"}, "THREADWEAVER_API_AUTH_MODE must be jwt or disabled"),
        ({"JWT_ALGORITHM": "none"}, "THREADWEAVER_API_JWT_ALGORITHM must be HS256 or RS256"),
        ({"JWT_ALGORITHM": "HS512"}, "THREADWEAVER_API_JWT_ALGORITHM must be HS256 or RS256"),
        ({"JWT_ALGORITHM": "HS256,RS256"}, "must be HS256 or RS256"),
        ({"JWT_LEEWAY_S": "3600"}, "THREADWEAVER_API_JWT_LEEWAY_S must be <= 300"),
        ({"JWT_LEEWAY_S": "-1"}, "THREADWEAVER_API_JWT_LEEWAY_S must be >= 0"),
        ({"JWT_KEY": "k" * 40, "JWT_KEY_FILE": "/x"}, "set only one of THREADWEAVER_API_JWT_KEY"),
        ({"JWT_KEY_FILE": "/no/such/file"}, "THREADWEAVER_API_JWT_KEY_FILE: cannot read"),
    ],
)
def test_bad_auth_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env({f"THREADWEAVER_API_{k}": v for k, v in env.items()})


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match=r"THREADWEAVER_API_JWT_KEY_FILE: .* is empty"):
        Settings.from_env({"THREADWEAVER_API_JWT_KEY_FILE": str(empty)})
