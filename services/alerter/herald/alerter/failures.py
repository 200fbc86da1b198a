"""publish.failed → one open alert per channel, counted, once per event (inbox);
publish.succeeded on that channel → the alert resolves itself."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from prometheus_client import Counter

from herald.alerter.adapters import alert_store
from herald.alerter.domain.publish_alerts import alert_for_failure, failure_key
from herald.common.db.engine import Database
from herald.common.events import Envelope, PublishFailed, PublishSucceeded
from herald.common.inbox import first_delivery

log = structlog.get_logger(__name__)

ALERTS_RECORDED = Counter(
    "herald_alerts_recorded_total", "Alert occurrences stored", ["category", "severity"]
)
ALERTS_RESOLVED = Counter("herald_alerts_resolved_total", "Alerts resolved", ["resolution"])


async def record_failure(db: Database, consumer: str, envelope: Envelope) -> None:
    failure = envelope.payload(PublishFailed)
    draft = alert_for_failure(failure)
    async with db.transaction() as session:
        if not await first_delivery(session, consumer, envelope.id):
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


async def resolve_on_success(db: Database, consumer: str, envelope: Envelope) -> None:
    """A post that went out on a channel resolves that channel's failure alert (``auto``)."""
    success = envelope.payload(PublishSucceeded)
    async with db.transaction() as session:
        if not await first_delivery(session, consumer, envelope.id):
            return
        alert_id = await alert_store.resolve(
            session,
            tenant_id=envelope.tenant_id,
            dedup_key=failure_key(success.channel_id),
            now=datetime.now(UTC),
        )
    if alert_id is not None:
        ALERTS_RESOLVED.labels("auto").inc()
        log.info(
            "alert.resolved",
            alert_id=str(alert_id),
            resolution="auto",
            channel_id=str(success.channel_id),
        )
