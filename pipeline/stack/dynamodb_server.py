"""The embedded stack's DynamoDB API: dynalite (npm) on LevelDB under DATA_DIR/dynamodb.

Every write dynalite acknowledges is in LevelDB's write-ahead log, so a SIGKILL loses nothing
acknowledged and a stop takes milliseconds (ADR 0010). It is installed with `npm ci` from the
pinned `dynalite/package-lock.json` into the venv, beside the broker's jars, and started by
`dynalite/server.js` (dynalite's cli.js, without its crash on a client that goes away).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pipeline
from pipeline.stack.errors import StackError
from pipeline.stack.layout import Layout
from pipeline.stack.ports import LOOPBACK
from pipeline.stack.process import ProcessRecord, ProcessSpec
from pipeline.stack.readiness import wait_until_answers

NAME = "dynamodb"
PACKAGE = Path(__file__).resolve().parent / "dynalite"
MIN_NODE = 20
# dynalite accepts any credentials; fixed dummies keep a developer's real AWS keys out of it.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# dynalite makes a new table ACTIVE after --createTableMs (500 ms by default), like DynamoDB;
# a developer stack has no reason to wait.
TABLE_MS = "10"

Echo = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


def version() -> str:
    return str(json.loads((PACKAGE / "package.json").read_text())["dependencies"]["dynalite"])


def install_dir() -> Path:
    return Path(sys.prefix) / "share" / "threadweaver" / f"dynalite-{version()}"


def server_script() -> Path:
    """Our launcher (dynalite/server.js), copied beside node_modules so `require` finds it."""
    return install_dir() / "server.js"


def _lock_marker() -> Path:
    return install_dir() / "installed-from.package-lock.json"


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise StackError(
            f"the embedded DynamoDB server (dynalite) needs Node.js {MIN_NODE}+ with npm "
            "(`apt-get install nodejs npm`); or set THREADWEAVER_DYNAMODB_ENDPOINT to a "
            "DynamoDB-API server you run (docker compose up dynamodb)"
        )
    result = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    match = re.match(r"v(\d+)", result.stdout.strip())
    if match is None or int(match.group(1)) < MIN_NODE:
        raise StackError(
            f"{node} is {result.stdout.strip() or 'of unknown version'}; dynalite needs "
            f"Node.js {MIN_NODE}+"
        )
    return node


def is_installed() -> bool:
    lock = (PACKAGE / "package-lock.json").read_text()
    marker = _lock_marker()
    return (
        (install_dir() / "node_modules" / "dynalite" / "index.js").is_file()
        and marker.is_file()
        and marker.read_text() == lock
        and server_script().is_file()
        and server_script().read_bytes() == (PACKAGE / "server.js").read_bytes()
    )


def ensure_installed(echo: Echo = _quiet) -> Path:
    """`npm ci` the pinned dynalite into the venv unless that exact lock is installed."""
    target = install_dir()
    if is_installed():
        return target / "node_modules"
    if (
        _lock_marker().is_file()
        and _lock_marker().read_text() == (PACKAGE / "package-lock.json").read_text()
    ):
        # Only the launcher changed.
        shutil.copyfile(PACKAGE / "server.js", server_script())
        return target / "node_modules"
    node_binary()
    npm = shutil.which("npm")
    if npm is None:
        raise StackError("installing dynalite needs npm (`apt-get install npm`)")
    echo(f"installing dynalite {version()} from npm into {target}")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(PACKAGE / name, target / name)
    # No install scripts: classic-level (LevelDB) ships prebuilt binaries for linux-x64 and
    # friends, and only compiles from source where none fits.
    result = subprocess.run(
        [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0 or not (target / "node_modules" / "dynalite").is_dir():
        output = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise StackError(
            f"npm could not install dynalite (exit {result.returncode}):\n" + "\n".join(output)
        )
    shutil.copyfile(PACKAGE / "server.js", server_script())
    _lock_marker().write_text((PACKAGE / "package-lock.json").read_text())
    return target / "node_modules"


def endpoint_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server: ours without AWS settings that could point it elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DUMMY_CREDENTIALS)
    # Python servers are `python -m pipeline...`: keep them importable from a plain checkout.
    source_root = str(Path(pipeline.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    env.update(extra or {})
    return env


def store_of(layout: Layout) -> Path:
    return layout.dynamodb


def spec(layout: Layout, port: int, region: str) -> ProcessSpec:
    del region  # dynalite serves every region from one store; clients still sign with one
    store = store_of(layout)
    store.mkdir(parents=True, exist_ok=True)
    return ProcessSpec(
        name=NAME,
        argv=(
            node_binary(),
            str(server_script()),
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--path",
            str(store),
            "--createTableMs",
            TABLE_MS,
            "--deleteTableMs",
            TABLE_MS,
            "--updateTableMs",
            TABLE_MS,
        ),
        log_path=layout.log(NAME),
        env=server_env(),
        cwd=layout.root,
        # LevelDB's log holds every acknowledged write already; closing it is quick.
        stop_signal=signal.SIGTERM,
        stop_timeout=10.0,
    )


def client(service: str, endpoint: str, region: str, timeout: float = 5.0) -> Any:
    import boto3  # noqa: PLC0415 - costs most of a second; `stack env` never needs it
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}),
    )


def wait_ready(
    endpoint: str, region: str, timeout: float, record: ProcessRecord | None = None
) -> None:
    dynamodb = client("dynamodb", endpoint, region, timeout=2.0)
    wait_until_answers(
        f"dynalite (DynamoDB ListTables on {endpoint})",
        dynamodb.list_tables,
        timeout=timeout,
        record=record,
    )
