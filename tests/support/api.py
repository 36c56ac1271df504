"""Run the API for tests: in-process (the real app, its real lifespan: pool + command
client, an httpx client over ASGI), or as `threadweaver api` with a worker and a projector.
Either verifies tokens of `tests.support.auth` (send `headers=bearer(account)`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from pipeline.settings import ApiSettings, Settings
from pipeline.stack.ports import free_port
from pipeline.system import System
from tests.support.auth import api_auth_env, auth_settings
from tests.support.processes import launcher, worker
from tests.support.projector import ReadModel, projector

START_TIMEOUT_S = 90.0


def api_settings(base: Settings, **overrides: Any) -> Settings:
    """`base` with API settings that accept the test tokens (`tests.support.auth`)."""
    return base.replaced(api=ApiSettings(**{"auth": auth_settings(), **overrides}))


@asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@contextmanager
def api_processes(
    settings: Settings, model: ReadModel, log_dir: Path, **api_env: str
) -> Iterator[tuple[str, System]]:
    """A worker, a projector into `model` and `threadweaver api` reading it, ready: the API's
    base URL and the processes. Each must still run at the end, and stop with exit code 0."""
    port = free_port()
    api = launcher(model.settings, log_dir).api(port=port, env={**api_auth_env(), **api_env})
    processes = System([worker(settings, log_dir), projector(model, log_dir), api])
    try:
        processes.start()
        api.wait_ready(START_TIMEOUT_S)
        yield f"http://127.0.0.1:{port}", processes
        for component in processes:
            assert component.alive(), component.log_tail()
    finally:
        codes = processes.stop()
    assert codes == {"api": 0, "projector": 0, "worker": 0}, codes
