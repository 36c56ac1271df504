"""Run the API in-process for tests: the real app, its real lifespan (pool + command client),
an httpx client over ASGI. The app verifies tokens of `tests.support.auth` (send
`headers=bearer(account)`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from api.app import create_app
from api.settings import ApiSettings
from pipeline.settings import Settings
from tests.support.auth import auth_settings


def api_settings(base: Settings, **overrides: Any) -> ApiSettings:
    """API settings on `base` that accept the test tokens (`tests.support.auth`)."""
    return ApiSettings(base=base, **{"auth": auth_settings(), **overrides})


@asynccontextmanager
async def api_client(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client
