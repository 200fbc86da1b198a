"""alert.raised / escalated / resolved → one delivery per subscribed tenant endpoint, unless a
silence or an active platform alert holds the notification back. Each event once (inbox)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from opentelemetry import trace
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.alerter.adapters.silence_store import active_silences, labels_of, open_platform_alerts
from herald.alerter.domain.notification import Decision, decide
from herald.common.db.engine import Database
from herald.common.db.models import Alert
from herald.common.events import Envelope
from herald.common.inbox import first_delivery
from herald.common.webhooks import enqueue

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)

NOTIFICATION_DECISIONS = Counter(
    "herald_alert_notification_decisions_total",
    "Alert changes sent or held back (silenced, inhibited, no_tenant)",
    ["event", "decision"],
)


class Notifier:
    def __init__(self, db: Database, wake_sender: Callable[[], None]):
        self.db, self.wake_sender = db, wake_sender

    async def alert_changed(self, consumer: str, envelope: Envelope) -> None:
        now = datetime.now(UTC)
        with tracer.start_as_current_span("alert.notify", attributes={"event": envelope.type}):
            async with self.db.transaction() as session:
                if not await first_delivery(session, consumer, envelope.id):
                    return
                alert = await session.scalar(
                    select(Alert).where(Alert.id == envelope.subject_id).with_for_update()
                )
                if alert is None:  # its tenant was deleted: nobody to tell
                    return
                decision = await self._decide(session, alert, envelope.type, now)
                alert.notification = decision.reason
                deliveries = []
                if decision.send and alert.tenant_id is not None:
                    alert.notified_at = alert.notified_at or now
                    deliveries = await enqueue(
                        session,
                        tenant_id=alert.tenant_id,
                        event_type=envelope.type,
                        event_id=envelope.id,
                        payload=envelope.data,
                        now=now,
                        occurred_at=envelope.occurred_at,
                    )
        NOTIFICATION_DECISIONS.labels(envelope.type, decision.kind).inc()
        log.info(
            "alert.notification",
            alert_id=str(envelope.subject_id),
            event_type=envelope.type,
            decision=decision.reason,
            deliveries=len(deliveries),
        )
        if deliveries:
            self.wake_sender()

    async def _decide(
        self, session: AsyncSession, alert: Alert, event_type: str, now: datetime
    ) -> Decision:
        notified = alert.notified_at is not None
        if alert.tenant_id is None:
            return decide(labels_of(alert), event_type, notified, [], [], now)
        silences = await active_silences(session, alert.tenant_id, now)
        platform_alerts = await open_platform_alerts(session, alert.tenant_id)
        return decide(labels_of(alert), event_type, notified, silences, platform_alerts, now)
