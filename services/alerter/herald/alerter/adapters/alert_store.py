"""Alerts in PostgreSQL: one open alert per (tenant, dedup key), changed under its row lock.

Every change that is news (raised, escalated, resolved) stages its event in the outbox in the
same transaction, so an alert and its notification commit together.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from herald.alerter.domain.occurrences import (
    AlertCounts,
    Change,
    Occurrence,
    first_occurrence,
    repeat,
)
from herald.alerter.domain.policy import AlertPolicy
from herald.alerter.domain.publish_alerts import AlertDraft
from herald.alerter.domain.severity import Severity
from herald.common.db.models import Alert, OutboxMessage
from herald.common.events import (
    AlertEscalated,
    AlertRaised,
    AlertResolved,
    AlertSnapshot,
    Envelope,
    Event,
)
from herald.common.events.changes import AlertChange
from herald.common.ids import new_id
from herald.common.live_updates import stage_alert_change
from herald.common.outbox import stage

OPEN = text("status <> 'resolved'")


async def record(
    session: AsyncSession,
    draft: AlertDraft,
    *,
    tenant_id: uuid.UUID | None,
    now: datetime,
    policy: AlertPolicy,
) -> tuple[Alert, Occurrence, str]:
    """Open the alert of ``draft.dedup_key`` or count a repeat on the open one; returns the
    alert, what the occurrence did, and the severity it had before."""
    inserted = await session.scalar(
        insert(Alert)
        .values(
            id=new_id(),
            tenant_id=tenant_id,
            severity=draft.severity.value,
            category=draft.category,
            source=draft.source,
            dedup_key=draft.dedup_key,
            message=draft.message,
            details=draft.details,
            channel_id=draft.channel_id,
            platform=draft.platform,
            occurrences=1,
            first_seen_at=now,
            last_seen_at=now,
            window_started_at=now,
            window_occurrences=0,
            status="active",
        )
        .on_conflict_do_nothing(index_elements=[Alert.tenant_id, Alert.dedup_key], index_where=OPEN)
        .returning(Alert)
    )
    if inserted is not None:
        return inserted, first_occurrence(draft.severity, now), draft.severity.value
    alert = await open_alert(session, tenant_id, draft.dedup_key)
    if alert is None:  # resolved between the two statements: the redelivery opens a new one
        raise LookupError(f"open alert {draft.dedup_key} was resolved meanwhile")
    previous = alert.severity
    occurrence = repeat(counts_of(alert), draft.severity, now, policy)
    apply_counts(alert, occurrence.counts)
    alert.last_seen_at, alert.message, alert.details = now, draft.message, draft.details
    return alert, occurrence, previous


async def open_alert(
    session: AsyncSession, tenant_id: uuid.UUID | None, dedup_key: str
) -> Alert | None:
    return await session.scalar(
        select(Alert)
        .where(
            Alert.tenant_id.is_not_distinct_from(tenant_id),
            Alert.dedup_key == dedup_key,
            Alert.status != "resolved",
        )
        .with_for_update()
    )


_ALERTS = cast(Table, Alert.__table__)  # Core: plain rows, no ORM compilation
_OPEN_OF = (
    _ALERTS.c.dedup_key.in_(bindparam("keys", expanding=True)),
    _ALERTS.c.status != "resolved",
)
# "=" or IS NULL, not IS NOT DISTINCT FROM: the open-alert index can answer those
_ANY_OPEN = (
    select(_ALERTS.c.id).where(_ALERTS.c.tenant_id == bindparam("tenant"), *_OPEN_OF).limit(1)
)
_ANY_OPEN_SYSTEM = select(_ALERTS.c.id).where(_ALERTS.c.tenant_id.is_(None), *_OPEN_OF).limit(1)
"""Built once (building a statement costs more CPU than running it): nearly every success
asks this, and nearly always hears no."""


async def any_open(
    reader: AsyncConnection | AsyncSession, tenant_id: uuid.UUID | None, dedup_keys: list[str]
) -> bool:
    """Is any alert of these keys open? One read, no lock (the cheap question first)."""
    if tenant_id is None:
        found = await reader.scalar(_ANY_OPEN_SYSTEM, {"keys": dedup_keys})
    else:
        found = await reader.scalar(_ANY_OPEN, {"tenant": tenant_id, "keys": dedup_keys})
    return found is not None


_OPEN_AMONG = select(_ALERTS.c.tenant_id, _ALERTS.c.dedup_key).where(
    _ALERTS.c.tenant_id.in_(bindparam("tenants", expanding=True)), *_OPEN_OF
)
"""Built once, like ``_ANY_OPEN``: the open alerts of a batch's tenants and keys (the open-alert
index answers it by its leading tenant column)."""


async def open_among(
    reader: AsyncConnection | AsyncSession, tenants: list[uuid.UUID], dedup_keys: list[str]
) -> set[tuple[uuid.UUID, str]]:
    """The (tenant, key) of every open alert of one of ``tenants`` with one of ``dedup_keys``:
    ``any_open`` for a whole batch, in one read (the caller matches the pairs)."""
    if not tenants or not dedup_keys:
        return set()
    rows = await reader.execute(_OPEN_AMONG, {"tenants": tenants, "keys": dedup_keys})
    return {(row.tenant_id, row.dedup_key) for row in rows}


def counts_of(alert: Alert) -> AlertCounts:
    return AlertCounts(
        severity=Severity(alert.severity),
        occurrences=alert.occurrences,
        window_started_at=alert.window_started_at or alert.first_seen_at,
        window_occurrences=alert.window_occurrences,
        escalation_level=alert.escalation_level,
        escalated_at=alert.escalated_at,
    )


def apply_counts(alert: Alert, counts: AlertCounts) -> None:
    alert.severity = counts.severity.value
    alert.occurrences = counts.occurrences
    alert.window_started_at = counts.window_started_at
    alert.window_occurrences = counts.window_occurrences
    alert.escalation_level = counts.escalation_level
    alert.escalated_at = counts.escalated_at


def resolve(alert: Alert, resolution: str, now: datetime) -> None:
    alert.status, alert.resolution, alert.resolved_at = "resolved", resolution, now


def snapshot(alert: Alert) -> AlertSnapshot:
    return AlertSnapshot.model_validate(alert, from_attributes=True)


def stage_news(
    session: AsyncSession,
    alert: Alert,
    occurrence: Occurrence,
    now: datetime,
    previous_severity: str,
) -> list[OutboxMessage]:
    """The event of a raised or escalated alert; nothing for an absorbed repeat."""
    if occurrence.change is Change.RAISED:
        return stage_event(session, alert, AlertRaised(alert=snapshot(alert)), now)
    if occurrence.change is Change.ESCALATED:
        event = AlertEscalated(
            alert=snapshot(alert),
            previous_severity=previous_severity,
            reason=occurrence.reason or "repeats",
        )
        return stage_event(session, alert, event, now)
    return []


def stage_resolved(
    session: AsyncSession, alert: Alert, reason: str, now: datetime
) -> list[OutboxMessage]:
    return stage_event(session, alert, AlertResolved(alert=snapshot(alert), reason=reason), now)


LIVE_CHANGES: dict[str, AlertChange] = {
    AlertRaised.type: "raised",
    AlertEscalated.type: "escalated",
    AlertResolved.type: "resolved",
}


def stage_event(
    session: AsyncSession, alert: Alert, event: Event, now: datetime
) -> list[OutboxMessage]:
    """The alert's event, and the tenant's live update of the same change."""
    envelope = Envelope.wrap(event, tenant_id=alert.tenant_id, subject_id=alert.id, now=now)
    change = LIVE_CHANGES[event.type]
    return [stage(session, event, envelope), *stage_alert_change(session, alert, change, now)]
