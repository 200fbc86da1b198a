"""Alerts and silences of a tenant: read, acknowledge, resolve, mute (routes and CLI use these).

Resolving by hand stages ``alert.resolved`` in the same transaction, so the tenant's webhook
endpoints hear about it like an automatic resolution.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.service_layer.errors import Invalid, NotFound, Refused
from herald.common.db.models import Alert, Channel, OutboxMessage, Silence
from herald.common.events import AlertResolved, AlertSnapshot, Envelope
from herald.common.live_updates import stage_alert_change
from herald.common.outbox import stage


@dataclass(frozen=True)
class AlertFilter:
    status: str | None = None
    severity: str | None = None
    category: str | None = None
    channel_id: uuid.UUID | None = None
    platform: str | None = None

    def apply(self, query: Select[Alert]) -> Select[Alert]:
        for column, value in (
            (Alert.status, self.status),
            (Alert.severity, self.severity),
            (Alert.category, self.category),
            (Alert.channel_id, self.channel_id),
            (Alert.platform, self.platform),
        ):
            if value is not None:
                query = query.where(column == value)
        return query


async def page_of_alerts(
    session: AsyncSession,
    tenant_id: uuid.UUID | None,
    where: AlertFilter,
    limit: int,
    cursor: uuid.UUID | None,
) -> tuple[list[Alert], uuid.UUID | None]:
    """Newest first, keyset on the (time-ordered) id; the next cursor or None.

    ``tenant_id`` None lists the operator-wide alerts (threshold rules, no tenant)."""
    query = where.apply(select(Alert).where(Alert.tenant_id.is_not_distinct_from(tenant_id)))
    if cursor is not None:
        query = query.where(Alert.id < cursor)
    rows = list((await session.scalars(query.order_by(Alert.id.desc()).limit(limit + 1))).all())
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


Owned = TypeVar("Owned", Alert, Silence)


async def _owned(
    session: AsyncSession, model: type[Owned], tenant_id: uuid.UUID, row_id: uuid.UUID, lock: bool
) -> Owned:
    """The tenant's row (locked if asked); another tenant's is not found either."""
    query = select(model).where(model.id == row_id, model.tenant_id == tenant_id)
    row = await session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(model.__tablename__.removesuffix("s"))
    return row


async def alert_of(
    session: AsyncSession, tenant_id: uuid.UUID, alert_id: uuid.UUID, *, lock: bool = False
) -> Alert:
    return await _owned(session, Alert, tenant_id, alert_id, lock)


def acknowledge(session: AsyncSession, alert: Alert, now: datetime) -> list[OutboxMessage]:
    """Someone is on it: the alert stays open (repeats still count) but is no longer new.

    Returns the live update to relay after the commit."""
    if alert.status != "active":
        raise Refused(
            "alert_not_active",
            "Only an active alert can be acknowledged",
            f"the alert is {alert.status}",
            alert_status=alert.status,
        )
    alert.status, alert.acknowledged_at = "acknowledged", now
    return stage_alert_change(session, alert, "acknowledged", now)


def resolve(session: AsyncSession, alert: Alert, now: datetime) -> list[OutboxMessage]:
    if alert.status == "resolved":
        raise Refused("alert_resolved", "The alert is already resolved", alert_status=alert.status)
    alert.status, alert.resolution, alert.resolved_at = "resolved", "manual", now
    event = AlertResolved(
        alert=AlertSnapshot.model_validate(alert, from_attributes=True), reason="manual"
    )
    envelope = Envelope.wrap(event, tenant_id=alert.tenant_id, subject_id=alert.id, now=now)
    return [stage(session, event, envelope), *stage_alert_change(session, alert, "resolved", now)]


@dataclass(frozen=True)
class SilenceRequest:
    reason: str
    ends_at: datetime
    starts_at: datetime | None = None
    dedup_key: str | None = None
    channel_id: uuid.UUID | None = None
    category: str | None = None


async def create_silence(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID | None,
    request: SilenceRequest,
    now: datetime,
) -> Silence:
    if request.dedup_key is None and request.channel_id is None and request.category is None:
        raise Invalid(
            "silence_matches_everything",
            "A silence needs at least one matcher",
            "set dedup_key, channel_id or category",
        )
    if request.channel_id is not None:
        owned = await session.scalar(
            select(Channel.id).where(
                Channel.id == request.channel_id, Channel.tenant_id == tenant_id
            )
        )
        if owned is None:  # a typo would otherwise mute nothing, silently
            raise Invalid(
                "unknown_channel",
                "The silence names a channel you do not have",
                str(request.channel_id),
            )
    starts_at = request.starts_at or now
    if request.ends_at <= max(starts_at, now):
        raise Invalid("silence_ends_in_past", "A silence must end after it starts and after now")
    silence = Silence(
        tenant_id=tenant_id,
        dedup_key=request.dedup_key,
        channel_id=request.channel_id,
        category=request.category,
        reason=request.reason,
        starts_at=starts_at,
        ends_at=request.ends_at,
        created_by=key_id,
    )
    session.add(silence)
    return silence


async def silence_of(
    session: AsyncSession, tenant_id: uuid.UUID, silence_id: uuid.UUID, *, lock: bool = False
) -> Silence:
    return await _owned(session, Silence, tenant_id, silence_id, lock)


def expire_silence(silence: Silence, now: datetime) -> None:
    """End a silence now (it stays listed, expired); ending an expired one changes nothing."""
    if silence.ends_at > now:
        silence.ends_at = now
        silence.starts_at = min(silence.starts_at, now)
