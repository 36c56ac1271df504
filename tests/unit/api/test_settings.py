"""THREADWEAVER_API_* settings."""

from __future__ import annotations

import pytest

from api.settings import ApiSettings

pytestmark = pytest.mark.unit


def test_defaults() -> None:
    settings = ApiSettings.from_env({})
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
    settings = ApiSettings.from_env(env)
    assert settings.port == 9000
    assert settings.workers == 4
    assert settings.min_version_wait_s == 0.5
    assert settings.reply_partition == 2
    assert settings.access_log
    assert settings.base.pg_dsn == "postgresql://x/y"
    assert ApiSettings.from_env(settings.to_env()) == settings


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
        ApiSettings.from_env({f"THREADWEAVER_API_{name}": value})
