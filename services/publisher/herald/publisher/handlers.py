"""Thin handlers: one per subject; each parses, delegates and lets ``settled`` ack or nak."""

from __future__ import annotations

from faststream.nats import NatsRouter
from faststream.nats.annotations import NatsMessage

from herald.common.consumers import settled, subscribe
from herald.common.events import Envelope, PublishRequested
from herald.common.runtime import Runtime
from herald.common.streams import PUBLISHER_PUBLISH_REQUESTED
from herald.publisher.execution import Executor
from herald.publisher.settings import PublisherSettings


def build_router(runtime: Runtime, settings: PublisherSettings, executor: Executor) -> NatsRouter:
    router = NatsRouter()

    @subscribe(
        router,
        PUBLISHER_PUBLISH_REQUESTED,
        settings,
        workers=settings.concurrency,
        fetch_batch=settings.fetch_batch,
    )
    @settled(PUBLISHER_PUBLISH_REQUESTED.durable)
    async def on_publish_requested(envelope: Envelope, message: NatsMessage) -> None:
        await executor.execute(envelope.payload(PublishRequested).job_id, message.in_progress)

    return router
