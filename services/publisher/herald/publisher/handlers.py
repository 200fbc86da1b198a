"""Thin handlers: one per subject; each parses, delegates and lets ``settled`` ack or nak."""

from __future__ import annotations

from faststream.nats import NatsRouter

from herald.common.channel_checks import (
    REFRESH_SUBJECT,
    VERIFY_QUEUE,
    VERIFY_SUBJECT,
    ChannelVerdict,
    VerifyChannel,
)
from herald.common.consumers import NatsMessage, settled, subscribe
from herald.common.events import Envelope, PublishRequested
from herald.common.streams import PUBLISHER_REQUESTS, ConsumerSpec
from herald.publisher.execution import Executor
from herald.publisher.gate import PriorityGate
from herald.publisher.leases import renewal_interval
from herald.publisher.settings import PublisherSettings
from herald.publisher.verification import Verifier

CHECK_WORKERS = 8


def build_router(
    settings: PublisherSettings, executor: Executor, gate: PriorityGate, verifier: Verifier
) -> NatsRouter:
    router = NatsRouter()
    for priority, spec in PUBLISHER_REQUESTS.items():
        _on_requests(router, spec, priority, settings, executor, gate)

    # several checks at once: one slow platform must not hold the others past the API's wait
    @router.subscriber(VERIFY_SUBJECT, queue=VERIFY_QUEUE, max_workers=CHECK_WORKERS)
    async def on_verify_channel(question: VerifyChannel) -> ChannelVerdict:
        """POST /v1/channels/{id}/verify, asked over core NATS: one publisher answers."""
        return await verifier.verify(question)

    @router.subscriber(REFRESH_SUBJECT, queue=VERIFY_QUEUE, max_workers=CHECK_WORKERS)
    async def on_refresh_channel(question: VerifyChannel) -> ChannelVerdict:
        """POST /v1/channels/{id}/refresh: new OAuth tokens now."""
        return await verifier.refresh(question)

    return router


def _on_requests(
    router: NatsRouter,
    spec: ConsumerSpec,
    priority: str,
    settings: PublisherSettings,
    executor: Executor,
    gate: PriorityGate,
) -> None:
    async def on_publish_requested(envelope: Envelope, message: NatsMessage) -> None:
        request = envelope.payload(PublishRequested)
        delivered = message.raw_message.metadata.num_delivered or 1
        async with gate.slot(priority, message.in_progress, keepalive_s):
            await executor.execute(request.job_id, message.in_progress, request.priority, delivered)

    keepalive_s = renewal_interval(settings.lease_s, settings.consumer_ack_wait_s)
    on_publish_requested.__name__ = f"on_publish_requested_{priority}"
    handler = settled(spec.durable)(on_publish_requested)
    subscribe(
        router, spec, settings, workers=settings.concurrency, fetch_batch=settings.fetch_batch
    )(handler)
