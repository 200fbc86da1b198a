"""Thin handlers of the alerter."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from faststream.nats import NatsRouter
from prometheus_client import Counter

from herald.alerter.adapters import alert_store
from herald.alerter.domain.publish_alerts import alert_for_failure
from herald.alerter.settings import AlerterSettings
from herald.common.consumers import settled, subscribe
from herald.common.events import Envelope, PublishFailed
from herald.common.inbox import first_delivery
from herald.common.runtime import Runtime
from herald.common.streams import ALERTER_PUBLISH_FAILED

log = structlog.get_logger(__name__)

ALERTS_RECORDED = Counter(
    "herald_alerts_recorded_total", "Alert occurrences stored", ["category", "severity"]
)


def build_router(runtime: Runtime, settings: AlerterSettings) -> NatsRouter:
    router = NatsRouter()

    @subscribe(router, ALERTER_PUBLISH_FAILED, settings, workers=4)
    @settled(ALERTER_PUBLISH_FAILED.durable)
    async def on_publish_failed(envelope: Envelope, _message: object) -> None:
        failure = envelope.payload(PublishFailed)
        draft = alert_for_failure(failure)
        async with runtime.db.transaction() as session:
            if not await first_delivery(session, ALERTER_PUBLISH_FAILED.durable, envelope.id):
                return
            alert_id, count = await alert_store.upsert(
                session,
                draft,
                tenant_id=envelope.tenant_id,
                channel_id=failure.channel_id,
                platform=failure.platform,
                now=datetime.now(UTC),
            )
        ALERTS_RECORDED.labels(draft.category, draft.severity).inc()
        log.info(
            "alert.recorded",
            alert_id=str(alert_id),
            occurrences=count,
            dedup_key=draft.dedup_key,
            severity=draft.severity,
        )

    return router
