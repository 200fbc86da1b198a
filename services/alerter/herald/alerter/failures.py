"""Occurrences → alerts: publish failures, auth failures and reported conditions raise or
count an alert; a success on the channel resolves its alerts. Each event once (inbox)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from prometheus_client import Counter

from herald.alerter.adapters import alert_store
from herald.alerter.domain.occurrences import Change
from herald.alerter.domain.policy import AlertPolicy
from herald.alerter.domain.publish_alerts import (
    AlertDraft,
    alert_for_auth_failure,
    alert_for_failure,
    alert_for_report,
    auth_key,
    failure_key,
)
from herald.common.consumers import Received
from herald.common.db.engine import Database
from herald.common.events import (
    ChannelAuthFailed,
    ConditionReported,
    Envelope,
    PublishFailed,
    PublishSucceeded,
)
from herald.common.inbox import first_delivery
from herald.common.outbox import OutboxRelay
from herald.common.telemetry import continued

log = structlog.get_logger(__name__)

ALERT_CHANGES = Counter(
    "herald_alert_changes_total", "Alert occurrences by what they did", ["category", "change"]
)
REPEATS_ABSORBED = Counter(
    "herald_alert_repeats_absorbed_total",
    "Repeats counted on an open alert, not sent",
    ["category"],
)
ALERTS_RESOLVED = Counter("herald_alerts_resolved_total", "Alerts resolved", ["resolution"])


class Alerting:
    """The alerter's use cases; handlers hand each event to one method."""

    def __init__(self, db: Database, relay: OutboxRelay, policy: AlertPolicy):
        self.db, self.relay, self.policy = db, relay, policy

    async def publish_failed(self, consumer: str, envelope: Envelope) -> None:
        draft = alert_for_failure(envelope.payload(PublishFailed))
        if draft is not None:
            await self.occurrence(consumer, envelope, draft)

    async def channel_auth_failed(self, consumer: str, envelope: Envelope) -> None:
        draft = alert_for_auth_failure(envelope.payload(ChannelAuthFailed))
        await self.occurrence(consumer, envelope, draft)

    async def condition_reported(self, consumer: str, envelope: Envelope) -> None:
        report = envelope.payload(ConditionReported)
        if report.active:
            await self.occurrence(consumer, envelope, alert_for_report(report, "system"))
        else:
            await self.resolve_keys(consumer, envelope, [report.key], "condition_cleared")

    async def publish_succeeded(self, consumer: str, envelope: Envelope) -> None:
        """A post that went out on a channel resolves that channel's alerts (``auto``)."""
        await self.resolve_keys(consumer, envelope, _resolved_by(envelope), "succeeded")

    async def publish_succeeded_many(self, consumer: str, batch: list[Received]) -> None:
        """``publish_succeeded`` for a batch: one read says which of them meet an open alert
        (nearly always none); only those go on to resolve, each in its own message's trace."""
        keys = {received.envelope.id: _resolved_by(received.envelope) for received in batch}
        tenants = {r.envelope.tenant_id for r in batch if r.envelope.tenant_id is not None}
        wanted = sorted({key for resolved in keys.values() for key in resolved})
        async with self.db.autocommit() as connection:
            open_ = await alert_store.open_among(connection, sorted(tenants), wanted)
        for received in batch:
            envelope = received.envelope
            if any((envelope.tenant_id, key) in open_ for key in keys[envelope.id]):
                with continued("alert.resolve_on_success", received.headers):
                    await self.resolve_keys(consumer, envelope, keys[envelope.id], "succeeded")

    async def occurrence(self, consumer: str, envelope: Envelope, draft: AlertDraft) -> None:
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            if not await first_delivery(session, consumer, envelope.id):
                return
            alert, occurrence, previous = await alert_store.record(
                session, draft, tenant_id=envelope.tenant_id, now=now, policy=self.policy
            )
            rows = alert_store.stage_news(session, alert, occurrence, now, previous)
            alert_id, severity, count = alert.id, alert.severity, alert.occurrences
        ALERT_CHANGES.labels(draft.category, occurrence.change.value).inc()
        if occurrence.change is Change.REPEATED:
            REPEATS_ABSORBED.labels(draft.category).inc()
        log.info(
            f"alert.{occurrence.change.value}",
            alert_id=str(alert_id),
            dedup_key=draft.dedup_key,
            severity=severity,
            occurrences=count,
            reason=occurrence.reason,
        )
        await self.relay.send(rows)

    async def resolve_keys(
        self, consumer: str, envelope: Envelope, keys: list[str], reason: str
    ) -> None:
        now = datetime.now(UTC)
        resolved: list[uuid.UUID] = []
        # nearly every success resolves nothing: it is then one read outside a transaction,
        # and writes nothing (no inbox row; resolving nothing twice is still nothing)
        async with self.db.autocommit() as connection:
            if not await alert_store.any_open(connection, envelope.tenant_id, keys):
                return
        async with self.db.transaction() as session:
            if not await first_delivery(session, consumer, envelope.id):
                return
            rows = []
            for key in keys:
                alert = await alert_store.open_alert(session, envelope.tenant_id, key)
                if alert is None:
                    continue
                alert_store.resolve(alert, "auto", now)
                rows += alert_store.stage_resolved(session, alert, reason, now)
                resolved.append(alert.id)
        for alert_id in resolved:
            ALERTS_RESOLVED.labels("auto").inc()
            log.info("alert.resolved", alert_id=str(alert_id), resolution="auto", reason=reason)
        await self.relay.send(rows)


def _resolved_by(envelope: Envelope) -> list[str]:
    """The keys of the alerts that a success on the envelope's channel resolves."""
    channel = envelope.payload(PublishSucceeded).channel_id
    return [failure_key(channel), auth_key(channel)]
