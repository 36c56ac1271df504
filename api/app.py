"""The Starlette application: routes from the route table, one error shape, metrics, and a
lifespan that opens (and closes) the PostgreSQL pool and the Kafka command client.

`create_app()` without arguments reads the environment; it is the factory uvicorn calls in
each worker process (`threadweaver api`). Creating the app connects nowhere: the lifespan
does, once the server starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import asyncpg
import orjson
from confluent_kafka.admin import AdminClient
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route

from api.auth import Authenticator
from api.errors import (
    ApiError,
    api_error_handler,
    http_exception_handler,
    unhandled_error_handler,
)
from api.metrics import MetricsMiddleware
from api.openapi import build_document
from api.queries import READ_MODEL_UNAVAILABLE
from api.routes import ENDPOINTS, TAGS
from api.services import Services
from api.spec import starlette_endpoint
from api.swagger import ASSETS_PREFIX, SwaggerAssets
from pipeline.client import CommandClient
from pipeline.kafka.brokers import wait_until_reachable
from pipeline.kafka.config import client_config
from pipeline.kafka.security import KafkaConnection
from pipeline.settings import ApiSettings, Settings

log = logging.getLogger("threadweaver.api")

KAFKA_PROBE_TIMEOUT_S = 2.0
POOL_RETRY_START_S = 0.25
POOL_RETRY_CAP_S = 5.0


def kafka_probe(connection: KafkaConnection, topic: str) -> Callable[[], None]:
    """A blocking check that the brokers answer and the commands topic exists."""
    admin = AdminClient(client_config(connection, **{"client.id": "threadweaver-api-ready"}))

    def probe() -> None:
        # All topics, not just ours: a metadata request naming a topic may auto-create it.
        metadata = admin.list_topics(timeout=KAFKA_PROBE_TIMEOUT_S)
        found = metadata.topics.get(topic)
        if found is None:
            raise RuntimeError(f"topic {topic} does not exist")
        if found.error is not None:
            raise RuntimeError(f"topic {topic}: {found.error}")

    return probe


async def _open_pool(dsn: str, settings: ApiSettings) -> asyncpg.Pool[asyncpg.Record]:
    """The read model's pool; while PostgreSQL does not answer (a restart), wait and retry."""
    delay = POOL_RETRY_START_S
    while True:
        try:
            return await asyncpg.create_pool(
                dsn,
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                command_timeout=settings.query_timeout_s,
                # The API only reads: a bug can never write to the read model.
                server_settings={
                    "application_name": "threadweaver-api",
                    "default_transaction_read_only": "on",
                },
            )
        except READ_MODEL_UNAVAILABLE as exc:
            log.warning("PostgreSQL does not answer (%r); retrying in %.2f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, POOL_RETRY_CAP_S)


def _lifespan(
    settings: Settings,
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    api = settings.api

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dsn = settings.required_pg_dsn("the API (it reads the PostgreSQL read model)")
        async with AsyncExitStack() as stack:
            pool = await _open_pool(dsn, api)
            stack.push_async_callback(pool.close)
            # An API started while Kafka restarts waits for it rather than exiting: the
            # client's start reads its reply partition's end.
            await asyncio.to_thread(wait_until_reachable, settings.kafka, log)
            client = CommandClient(settings, reply_partition=api.reply_partition)
            await client.start()
            stack.push_async_callback(client.close)
            app.state.services = Services(
                settings=api,
                pool=pool,
                client=client,
                kafka_probe=kafka_probe(settings.kafka, settings.topics.commands),
            )
            log.info(
                "api ready: replies partition %d, pool %d..%d",
                client.reply_partition,
                api.pool_min_size,
                api.pool_max_size,
            )
            yield

    return lifespan


def create_app(settings: Settings | None = None) -> Starlette:
    """The app; raises ValueError when it must not start (jwt mode without a usable key).

    Without settings it reads them (`uvicorn --factory api.app:create_app`); `threadweaver api`
    binds its own to the factory instead, for every worker process."""
    settings = settings if settings is not None else Settings.from_env()
    # Before anything else: an API that cannot verify tokens must not serve at all.
    authenticator = Authenticator(settings.api.auth)
    routes: list[BaseRoute] = [
        Route(
            endpoint.path,
            starlette_endpoint(endpoint, settings.api.body_limit_bytes),
            methods=[endpoint.method],
            name=endpoint.operation_id,
        )
        for endpoint in ENDPOINTS
    ]
    # After the routes: `/docs` itself is the page (a route), its files are below it.
    routes.append(Mount(ASSETS_PREFIX, app=SwaggerAssets(), name="docs-assets"))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(MetricsMiddleware)],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_exception_handler,
            Exception: unhandled_error_handler,
        },
        lifespan=_lifespan(settings),
    )
    # `/v1/threads/` (an empty thread id) is an unknown route (404), not a redirect elsewhere.
    app.router.redirect_slashes = False
    app.state.authenticator = authenticator
    # Serialized once: the document is static for the life of the process.
    app.state.openapi_json = orjson.dumps(build_document(ENDPOINTS, TAGS))
    return app
