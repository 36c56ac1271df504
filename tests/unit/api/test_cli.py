"""`threadweaver api`: registered, its listening socket gets TCP_NODELAY connections, and
`threadweaver api token` mints tokens the API accepts (development keys of `run` included)."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import jwt
import pytest

from api.auth import TokenVerifier
from pipeline.cli.api import _listening_socket
from pipeline.cli.dev_key import dev_auth_env, ensure_dev_key
from pipeline.cli.main import build_parser, main
from pipeline.settings import AuthSettings
from pipeline.settings.api import AUTH_ENV_NAMES
from tests.support.auth import TEST_JWT_KEY, api_auth_env
from tests.support.builders import ALICE, BOB

pytestmark = pytest.mark.unit


def test_the_command_is_registered() -> None:
    args = build_parser().parse_args(["api", "--port", "9001", "--workers", "3"])
    assert (args.port, args.workers, args.host) == (9001, 3, None)
    assert args.handler.__name__ == "_run"
    assert build_parser().parse_args(["api", "token", ALICE]).handler.__name__ == "_token"


def test_accepted_connections_of_the_shared_socket_are_tcp() -> None:
    # asyncio enables TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; accepted
    # sockets inherit it from the listener.
    listener = _listening_socket("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        listener.listen()
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP
    finally:
        listener.close()


def _token_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name in AUTH_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_api_token_mints_a_token_the_api_accepts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _token_env(monkeypatch, **api_auth_env(), THREADWEAVER_API_JWT_ISSUER="https://id.example")
    assert main(["api", "token", ALICE, "--ttl", "60"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, TEST_JWT_KEY, algorithms=["HS256"], issuer="https://id.example")
    assert claims["sub"] == ALICE
    assert claims["exp"] - claims["iat"] == 60
    auth = AuthSettings.from_env(os.environ)
    assert TokenVerifier(auth).account_of(token) == ALICE


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["api", "token", ALICE],
            {"THREADWEAVER_API_JWT_ALGORITHM": "RS256", "THREADWEAVER_API_JWT_KEY": "pem"},
            "RS256: the API holds only the token issuer's public key",
        ),
        (["api", "token", "alice"], {"THREADWEAVER_API_JWT_KEY": TEST_JWT_KEY}, "must be a ULID"),
        (["api", "token", ALICE, "--ttl", "0"], {"THREADWEAVER_API_JWT_KEY": TEST_JWT_KEY}, "1 s"),
        (["api", "token", ALICE], {"THREADWEAVER_API_JWT_KEY": "short"}, "at least 32 bytes"),
    ],
)
def test_api_token_refuses(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    _token_env(monkeypatch, **env)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_without_a_configured_key_the_local_development_key_signs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _token_env(monkeypatch)
    assert main(["api", "token", ALICE, "--data-dir", str(tmp_path)]) == 2
    assert "THREADWEAVER_API_JWT_KEY" in capsys.readouterr().err

    key_file = ensure_dev_key(tmp_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ensure_dev_key(tmp_path) == key_file  # created once, then reused
    key = key_file.read_text().strip()
    assert len(key) >= 64
    assert main(["api", "token", BOB, "--data-dir", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip()
    assert jwt.decode(token, key, algorithms=["HS256"])["sub"] == BOB
    auth = AuthSettings.from_env(dev_auth_env(key_file))
    assert TokenVerifier(auth).account_of(token) == BOB

    # Another data dir, another key.
    assert ensure_dev_key(tmp_path / "other").read_text() != key_file.read_text()


def test_a_development_key_readable_by_others_is_tightened(tmp_path: Path) -> None:
    key_file = ensure_dev_key(tmp_path)
    key_file.chmod(0o644)
    ensure_dev_key(tmp_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_run_has_a_loud_opt_out_of_authentication() -> None:
    assert build_parser().parse_args(["run"]).no_auth is False
    assert build_parser().parse_args(["run", "--no-auth"]).no_auth is True
