"""Silences and open platform alerts, as the notification decision reads them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.alerter.domain.notification import PLATFORM_CATEGORY, AlertLabels, SilenceRule
from herald.common.db.models import Alert, Silence


def labels_of(alert: Alert) -> AlertLabels:
    return AlertLabels(
        id=alert.id,
        tenant_id=alert.tenant_id,
        dedup_key=alert.dedup_key,
        category=alert.category,
        channel_id=alert.channel_id,
        platform=alert.platform,
    )


async def active_silences(
    session: AsyncSession, tenant_id: uuid.UUID, now: datetime
) -> list[SilenceRule]:
    rows = await session.scalars(
        select(Silence).where(
            Silence.tenant_id == tenant_id, Silence.starts_at <= now, Silence.ends_at > now
        )
    )
    return [
        SilenceRule(
            id=row.id,
            tenant_id=row.tenant_id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            dedup_key=row.dedup_key,
            channel_id=row.channel_id,
            category=row.category,
        )
        for row in rows
    ]


async def open_platform_alerts(session: AsyncSession, tenant_id: uuid.UUID) -> list[AlertLabels]:
    rows = await session.scalars(
        select(Alert).where(
            Alert.tenant_id == tenant_id,
            Alert.category == PLATFORM_CATEGORY,
            Alert.status != "resolved",
        )
    )
    return [labels_of(row) for row in rows]
