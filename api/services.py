"""What the handlers share, opened by the app's lifespan and kept on `app.state`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import asyncpg
from starlette.requests import Request

from pipeline.client import CommandClient
from pipeline.settings import ApiSettings


@dataclass(frozen=True, slots=True)
class Services:
    settings: ApiSettings
    pool: asyncpg.Pool[asyncpg.Record]
    client: CommandClient
    # Raises when Kafka does not answer (blocking: call it in a thread).
    kafka_probe: Callable[[], None]


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)
