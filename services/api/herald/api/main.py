"""Wiring of the API gateway: settings → database, JetStream, relay, heartbeat → routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import structlog
import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from nats.aio.client import Client as NatsClient

from herald.api import openapi_contract, problems
from herald.api.adapters.change_feed import ChangeFeeds
from herald.api.idempotency_middleware import IdempotencyMiddleware
from herald.api.middleware import LimitBody, Observe, ResponseHeaders, cors_options
from herald.api.routes import (
    alerts,
    api_keys,
    assets,
    audit,
    channels,
    events,
    jobs,
    oauth,
    platforms,
    queue,
    silences,
    system,
    tenants,
    webhook_endpoints,
)
from herald.api.settings import ApiSettings
from herald.api.state import AppState
from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.heartbeat import run_heartbeat
from herald.common.jetstream_sync import log_sync_setting
from herald.common.logs import configure_logging
from herald.common.oauth import oauth_clients
from herald.common.ops import ops_router
from herald.common.outbox import OutboxRelay
from herald.common.runtime import instance_id
from herald.common.settings import load_settings
from herald.common.streams import ensure_streams
from herald.common.telemetry import TELEMETRY, setup_tracing, shutdown_tracing

log = structlog.get_logger(__name__)

GRACEFUL_SHUTDOWN_S = 5
"""Requests in flight get this long at SIGTERM; open event streams never end by themselves, so
they are cut then (their clients reconnect elsewhere with Last-Event-ID)."""


def create_app(settings: ApiSettings) -> FastAPI:
    db = Database(
        settings.database_url, pool_size=settings.db_pool_size, application_name="herald-api"
    )
    connection: list[NatsClient] = []

    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        await connection[0].jetstream().publish(subject, payload, headers=headers)

    async def nats_ping() -> None:
        if not connection or not connection[0].is_connected:
            raise ConnectionError("NATS is not connected")
        await connection[0].flush(timeout=1)

    async def ask(subject: str, payload: bytes, headers: dict[str, str], wait_s: float) -> bytes:
        if not connection or not connection[0].is_connected:
            raise ConnectionError("NATS is not connected")
        answer = await connection[0].request(subject, payload, timeout=wait_s, headers=headers)
        return bytes(answer.data)

    relay = OutboxRelay(
        db,
        publish,
        grace_s=settings.outbox_grace_s,
        mark_linger_s=settings.outbox_mark_linger_s,
    )
    box = CredentialBox.from_setting(settings.credential_keys, settings.credential_active_key)
    feeds = ChangeFeeds(lambda: connection[0].jetstream(), settings.sse_max_streams)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        connection.append(
            await nats.connect(
                settings.nats_url.split(","), max_reconnect_attempts=-1, name="herald-api"
            )
        )
        await ensure_streams(connection[0].jetstream(), settings)
        await log_sync_setting(settings.nats_monitor_url)
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(relay.run(stop, settings.outbox_poll_interval_s)),
            asyncio.create_task(
                run_heartbeat(db, "api", instance_id(settings), stop, settings.heartbeat_interval_s)
            ),
        ]
        log.info("service.started", http_port=settings.http_port)
        yield
        stop.set()
        await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await relay.flush_marks()  # what the last requests and the loops sent
        await connection[0].drain()
        await db.dispose()
        shutdown_tracing()
        log.info("service.stopped")

    app = FastAPI(title="Herald API", version="1", lifespan=lifespan, telemetry=TELEMETRY)
    app.state.herald = AppState(
        settings=settings,
        db=db,
        relay=relay,
        credentials=box,
        nats_ping=nats_ping,
        ask=ask,
        changes=feeds,
        oauth_clients=oauth_clients(settings),
    )
    problems.install(app)
    openapi_contract.install(app)
    # Innermost first. Pure ASGI, so streamed responses pass; inside the body limit.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(ResponseHeaders)  # Retry-After, RateLimit-*: on replays and problems too
    app.add_middleware(LimitBody, max_bytes=settings.max_body_bytes)
    app.add_middleware(Observe)
    if settings.cors_origin_list:  # outermost: preflights, and CORS headers on every answer
        app.add_middleware(CORSMiddleware, **cors_options(settings.cors_origin_list))
    for module in (
        tenants,
        api_keys,
        audit,
        channels,
        assets,
        jobs,
        events,
        platforms,
        alerts,
        silences,
        webhook_endpoints,
        queue,
        system,
        oauth,
    ):
        app.include_router(module.router)
    app.include_router(alerts.system_router)
    app.include_router(ops_router({"database": db.ping, "nats": nats_ping}))
    return app


def main() -> None:
    settings = load_settings(ApiSettings)
    configure_logging("api", settings.log_level)
    setup_tracing("api")
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


if __name__ == "__main__":
    main()
