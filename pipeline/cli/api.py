"""`threadweaver api`: the HTTP API on uvicorn (THREADWEAVER_API_* environment, see README).

Flags override the environment. The settings reach uvicorn's worker processes inside the app
factory (`create_app` bound to them), which uvicorn pickles into each spawned worker: no
worker reads the environment again, and this process's environment is left as it was.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import signal
import socket
import sys
import tempfile
from types import FrameType
from typing import TYPE_CHECKING

from pipeline.cli.command import Subparsers, add_command
from pipeline.cli.endpoints import add_endpoint_arguments, settings_from_args
from pipeline.settings import PREFIX

if TYPE_CHECKING:
    from pipeline.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _stopped(_signum: int, _frame: FrameType | None) -> None:
    # uvicorn handles SIGTERM/SIGINT itself (graceful shutdown), then re-raises the signal to
    # this, the previous handler: a requested stop is a clean exit (0), as for the worker and
    # the projector, not a death by signal.
    raise SystemExit(0)


def _run(args: argparse.Namespace) -> int:
    """run the HTTP API (uvicorn; THREADWEAVER_API_* environment; see README)

    Serve the HTTP API v1 (queries, commands, /docs, /metrics) with uvicorn.
    """
    # Imported here so that other commands do not pay for Starlette, uvicorn and asyncpg.
    from api.auth import verification_key  # noqa: PLC0415
    from pipeline.settings import AuthMode  # noqa: PLC0415

    settings = settings_from_args(args)
    overrides = {
        name: value
        for name, value in (
            ("host", args.host),
            ("port", args.port),
            ("workers", args.workers),
            ("access_log", args.access_log or None),
        )
        if value is not None
    }
    settings = settings.replaced(api=settings.api.replaced(**overrides))
    try:
        # Refuse to start here, once, rather than in every uvicorn worker.
        if settings.api.auth.mode is AuthMode.JWT:
            verification_key(settings.api.auth)
    except ValueError as exc:
        print(f"threadweaver api: {exc}", file=sys.stderr)
        return 2
    if not settings.pg_dsn:
        print(
            f"threadweaver api: {PREFIX}PG_DSN is not set and no local stack was found "
            "(threadweaver stack up)",
            file=sys.stderr,
        )
        return 2
    metrics_dir = None
    if settings.api.workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # Each worker process counts on its own; the shared directory lets /metrics, served
        # by whichever worker, report the sum. prometheus_client reads its own variable in
        # each worker process, so it is the one variable set here.
        metrics_dir = tempfile.mkdtemp(prefix="threadweaver-api-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    signal.signal(signal.SIGTERM, _stopped)
    signal.signal(signal.SIGINT, _stopped)
    try:
        return _serve(settings)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _token(args: argparse.Namespace) -> int:
    """print a bearer token for an account (development; HS256 key only)

    Mint a bearer token for ACCOUNT_ID with the API's HS256 key (THREADWEAVER_API_JWT_KEY or
    THREADWEAVER_API_JWT_KEY_FILE, else the development key of the local stack's data dir,
    which `threadweaver run` creates). Prints only the token.
    """
    from api.tokens import mint  # noqa: PLC0415
    from pipeline.cli.dev_key import token_settings  # noqa: PLC0415

    try:
        print(mint(token_settings(args.data_dir), args.account_id, args.ttl))
    except ValueError as exc:
        print(f"threadweaver api token: {exc}", file=sys.stderr)
        return 2
    return 0


def _listening_socket(host: str, port: int) -> socket.socket:
    # uvicorn binds the shared socket of several workers with proto 0; accepted sockets inherit
    # it, and asyncio sets TCP_NODELAY only on IPPROTO_TCP ones, so every keep-alive request
    # then waits ~40 ms for a delayed ACK (measured; uvicorn issue #3149). Bind it ourselves.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _serve(settings: Settings) -> int:
    import uvicorn  # noqa: PLC0415
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415
    from pipeline import logs  # noqa: PLC0415

    api = settings.api
    config = uvicorn.Config(
        functools.partial(create_app, settings),
        factory=True,
        host=api.host,
        port=api.port,
        workers=api.workers,
        access_log=api.access_log,
        # uvicorn's own loggers go through ours: one format for the API's every line.
        log_config=logs.dict_config(settings.log.level, settings.log.format),
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    if api.workers > 1:
        try:
            sock = _listening_socket(api.host, api.port)
        except OSError as exc:
            print(f"threadweaver api: {api.host}:{api.port}: {exc}", file=sys.stderr)
            return 3
        Multiprocess(config, sockets=[sock]).run()
        return 0
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 3


def register(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "api", _run)
    parser.add_argument("--host", help=f"address to bind ({PREFIX}API_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"port ({PREFIX}API_PORT, default 8000)")
    parser.add_argument(
        "--workers", type=int, help=f"uvicorn worker processes ({PREFIX}API_WORKERS, default 1)"
    )
    parser.add_argument(
        "--access-log", action="store_true", help=f"log every request ({PREFIX}API_ACCESS_LOG)"
    )
    add_endpoint_arguments(parser)
    commands = parser.add_subparsers(dest="api_command", required=False, metavar="COMMAND")
    token = add_command(commands, "token", _token)
    token.add_argument("account_id", metavar="ACCOUNT_ID", help="the account (a ULID): `sub`")
    token.add_argument(
        "--ttl", type=int, default=3600, metavar="S", help="lifetime in seconds (default 3600)"
    )
    token.add_argument(
        "--data-dir",
        default=None,
        help="embedded stack directory whose development key is used when none is configured",
    )
