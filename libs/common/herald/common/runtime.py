"""The life of a FastStream service process: connect, declare, serve, heartbeat, stop cleanly.

``main.py`` of each worker service only builds its routers and background loops and hands
them to ``serve_worker``. On SIGTERM the broker stops fetching and waits for in-flight
handlers; background loops see ``stop``; telemetry is flushed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from faststream.nats import NatsBroker, NatsRouter
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.js import JetStreamContext
from prometheus_client import REGISTRY

from herald.common.db.engine import Database
from herald.common.heartbeat import run_heartbeat
from herald.common.jetstream_sync import log_sync_setting
from herald.common.logs import configure_logging
from herald.common.ops import http_server, ops_app
from herald.common.outbox import OutboxRelay
from herald.common.settings import HeraldSettings
from herald.common.streams import ConsumerSpec, ensure_consumers, ensure_streams
from herald.common.telemetry import setup_tracing, shutdown_tracing

log = structlog.get_logger(__name__)


def instance_id(settings: HeraldSettings) -> str:
    return settings.instance_id or f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runtime:
    """What handlers and loops of one process share."""

    settings: HeraldSettings
    db: Database
    broker: NatsBroker
    relay: OutboxRelay
    instance_id: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    js: JetStreamContext | None = None

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        if self.js is None:
            raise RuntimeError("JetStream is not connected yet")
        await self.js.publish(subject, payload, headers=headers)


def build_runtime(settings: HeraldSettings) -> Runtime:
    """Logging, tracing, the database and a broker with metrics and tracing middlewares."""
    configure_logging(settings.service_name, settings.log_level)
    provider = setup_tracing(settings.service_name)
    db = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        application_name=f"herald-{settings.service_name}",
    )
    broker = NatsBroker(
        settings.nats_url.split(","),
        middlewares=[
            NatsPrometheusMiddleware(registry=REGISTRY, app_name=f"herald-{settings.service_name}"),
            NatsTelemetryMiddleware(tracer_provider=provider),
        ],
        graceful_timeout=settings.consumer_ack_wait_s,
        max_reconnect_attempts=-1,
        name=f"herald-{settings.service_name}",
        logger=logging.getLogger("herald.broker"),  # JSON via the root handler, warnings only
    )
    runtime_holder: list[Runtime] = []

    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        await runtime_holder[0].publish(subject, payload, headers)

    relay = OutboxRelay(
        db,
        publish,
        grace_s=settings.outbox_grace_s,
        mark_linger_s=settings.outbox_mark_linger_s,
    )
    runtime = Runtime(settings, db, broker, relay, instance_id(settings))
    runtime_holder.append(runtime)
    return runtime


Loop = Callable[[Runtime], Coroutine[Any, Any, None]]


async def serve_worker(
    runtime: Runtime,
    routers: Sequence[NatsRouter],
    consumers: Sequence[ConsumerSpec] = (),
    loops: Sequence[Loop] = (),
    on_start: Callable[[Runtime], Awaitable[None]] | None = None,
) -> None:
    """Run a worker service until SIGTERM or SIGINT."""
    settings, broker = runtime.settings, runtime.broker
    for router in routers:
        broker.include_router(router)
    client = await broker.connect()
    runtime.js = client.jetstream()
    await ensure_streams(runtime.js, settings)
    await ensure_consumers(runtime.js, settings, consumers)
    await log_sync_setting(settings.nats_monitor_url)
    if on_start is not None:
        await on_start(runtime)
    await broker.start()

    async def nats_ping() -> None:
        if not await broker.ping(timeout=1.0):
            raise ConnectionError("NATS did not answer")

    server = http_server(
        ops_app({"database": runtime.db.ping, "nats": nats_ping}),
        settings.http_host,
        settings.http_port,
    )
    tasks = [
        asyncio.create_task(server.serve(), name="ops-http"),
        asyncio.create_task(
            runtime.relay.run(runtime.stop, settings.outbox_poll_interval_s), name="outbox"
        ),
        asyncio.create_task(
            run_heartbeat(
                runtime.db,
                settings.service_name,
                runtime.instance_id,
                runtime.stop,
                settings.heartbeat_interval_s,
            ),
            name="heartbeat",
        ),
        *(asyncio.create_task(loop(runtime), name=loop.__name__) for loop in loops),
    ]
    _stop_on_signals(runtime.stop)
    log.info("service.started", instance=runtime.instance_id, http_port=settings.http_port)
    await runtime.stop.wait()
    log.info("service.stopping")
    await broker.stop()
    server.should_exit = True
    await asyncio.wait(tasks, timeout=10)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)  # none sends once the marks are out
    await runtime.relay.flush_marks()  # what handlers and loops sent while they stopped
    await runtime.db.dispose()
    shutdown_tracing()
    log.info("service.stopped")


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
