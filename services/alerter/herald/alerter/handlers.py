"""Thin handlers of the alerter: one per subject."""

from __future__ import annotations

import structlog
from faststream.nats import NatsRouter

from herald.alerter.failures import Alerting
from herald.alerter.notifier import Notifier
from herald.alerter.settings import AlerterSettings
from herald.common.consumers import (
    Received,
    settled,
    settled_batch,
    subscribe,
    subscribe_batch,
)
from herald.common.events import ChannelAuthFailed, ConditionReported, Envelope
from herald.common.streams import (
    ALERTER_NOTIFY,
    ALERTER_PUBLISH_FAILED,
    ALERTER_PUBLISH_SUCCEEDED,
    ALERTER_SYSTEM,
)

log = structlog.get_logger(__name__)


def build_router(alerting: Alerting, notifier: Notifier, settings: AlerterSettings) -> NatsRouter:
    router = NatsRouter()

    @subscribe(router, ALERTER_PUBLISH_FAILED, settings, workers=4)
    @settled(ALERTER_PUBLISH_FAILED.durable)
    async def on_publish_failed(envelope: Envelope, _message: object) -> None:
        await alerting.publish_failed(ALERTER_PUBLISH_FAILED.durable, envelope)

    async def on_publish_succeeded(envelope: Envelope, _message: object) -> None:
        await alerting.publish_succeeded(ALERTER_PUBLISH_SUCCEEDED.durable, envelope)

    # nearly every success resolves nothing: a batch asks once, and shares the consumer's cost
    @subscribe_batch(
        router,
        ALERTER_PUBLISH_SUCCEEDED,
        settings,
        size=settings.success_batch_size,
        wait_s=settings.success_batch_wait_s,
    )
    @settled_batch(ALERTER_PUBLISH_SUCCEEDED.durable, on_publish_succeeded)
    async def on_publish_succeeded_batch(batch: list[Received]) -> None:
        await alerting.publish_succeeded_many(ALERTER_PUBLISH_SUCCEEDED.durable, batch)

    @subscribe(router, ALERTER_SYSTEM, settings, workers=2)
    @settled(ALERTER_SYSTEM.durable)
    async def on_system_event(envelope: Envelope, _message: object) -> None:
        if envelope.type == ChannelAuthFailed.type:
            await alerting.channel_auth_failed(ALERTER_SYSTEM.durable, envelope)
        elif envelope.type == ConditionReported.type:
            await alerting.condition_reported(ALERTER_SYSTEM.durable, envelope)
        else:  # other system events are for other consumers: not an alert, not poison
            log.debug("system_event.ignored", type=envelope.type)

    @subscribe(router, ALERTER_NOTIFY, settings, workers=4)
    @settled(ALERTER_NOTIFY.durable)
    async def on_alert_changed(envelope: Envelope, _message: object) -> None:
        await notifier.alert_changed(ALERTER_NOTIFY.durable, envelope)

    return router
