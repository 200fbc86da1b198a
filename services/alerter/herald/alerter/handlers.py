"""Thin handlers of the alerter: one per subject."""

from __future__ import annotations

from faststream.nats import NatsRouter

from herald.alerter.failures import record_failure, resolve_on_success
from herald.alerter.settings import AlerterSettings
from herald.common.consumers import settled, subscribe
from herald.common.events import Envelope
from herald.common.runtime import Runtime
from herald.common.streams import ALERTER_PUBLISH_FAILED, ALERTER_PUBLISH_SUCCEEDED


def build_router(runtime: Runtime, settings: AlerterSettings) -> NatsRouter:
    router = NatsRouter()

    @subscribe(router, ALERTER_PUBLISH_FAILED, settings, workers=4)
    @settled(ALERTER_PUBLISH_FAILED.durable)
    async def on_publish_failed(envelope: Envelope, _message: object) -> None:
        await record_failure(runtime.db, ALERTER_PUBLISH_FAILED.durable, envelope)

    @subscribe(router, ALERTER_PUBLISH_SUCCEEDED, settings, workers=4)
    @settled(ALERTER_PUBLISH_SUCCEEDED.durable)
    async def on_publish_succeeded(envelope: Envelope, _message: object) -> None:
        await resolve_on_success(runtime.db, ALERTER_PUBLISH_SUCCEEDED.durable, envelope)

    return router
