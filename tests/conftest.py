"""Shared fixtures.

The embedded stack is started lazily, by the same code as `threadweaver stack up`, the first
time a test asks for `stack` (or `settings`), and stopped at the end of the session: unit
tests never pay for it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.stack import Endpoints
    from tests.support.processes import Component


def allow_postgres_in(path: Path, top: Path) -> None:
    """Let the unprivileged account PostgreSQL runs as (when we are root) reach `path`.

    Only where user namespaces are refused (pipeline/stack/postgres.py): PostgreSQL then
    really runs as that account. pytest makes its temporary directories 0700; search
    permission (o+x, not read) on the ones between `top` and `path` is all it needs. pytest
    resets its own root directory's mode at the next session.
    """
    from pipeline.stack.postgres import user_namespaces_work  # noqa: PLC0415

    if os.geteuid() != 0 or user_namespaces_work():
        return
    for directory in (path, *path.parents):
        directory.chmod(directory.stat().st_mode | stat.S_IXOTH)
        if directory == top:
            break


def stack_data_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A fresh data dir for a stack, usable by PostgreSQL's account."""
    path = tmp_path_factory.mktemp(name)
    allow_postgres_in(path, tmp_path_factory.getbasetemp().parent)
    return path


@contextlib.contextmanager
def embedded_stack(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Endpoints]:
    """The endpoints of a running, provisioned embedded stack on a fresh data dir, stopped
    at the end of the block."""
    from pipeline.stack import down, up  # noqa: PLC0415 - keeps collection light

    data_dir = stack_data_dir(tmp_path_factory, name)
    result = up(data_dir)
    try:
        yield result.state.endpoints
    finally:
        down(data_dir)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """The embedded stack shared by the session."""
    with embedded_stack(tmp_path_factory, "stack") as endpoints:
        yield endpoints


@pytest.fixture
def settings(stack: Endpoints) -> Settings:
    return stack.settings()


@pytest.fixture(scope="module")
def running_worker(
    stack: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Component]:
    """A worker on the session's stack for the module's tests, which it must survive."""
    from tests.support.processes import supervised, worker  # noqa: PLC0415

    with supervised(worker(stack.settings(), tmp_path_factory.mktemp("worker"))) as component:
        yield component
