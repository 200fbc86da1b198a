"""Alerts in PostgreSQL: one open alert per (tenant, dedup key); repeats count occurrences."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.alerter.domain.publish_alerts import AlertDraft
from herald.common.db.models import Alert
from herald.common.ids import new_id


async def upsert(
    session: AsyncSession,
    draft: AlertDraft,
    *,
    tenant_id: uuid.UUID | None,
    channel_id: uuid.UUID | None,
    platform: str | None,
    now: datetime,
) -> tuple[uuid.UUID, int]:
    """Open a new alert or count a repeat on the open one; returns (id, occurrences)."""
    statement = insert(Alert).values(
        id=new_id(),
        tenant_id=tenant_id,
        severity=draft.severity,
        category=draft.category,
        source="publisher",
        dedup_key=draft.dedup_key,
        message=draft.message,
        details=draft.details,
        channel_id=channel_id,
        platform=platform,
        occurrences=1,
        first_seen_at=now,
        last_seen_at=now,
        status="active",
    )
    upsert_statement = statement.on_conflict_do_update(
        index_elements=[Alert.tenant_id, Alert.dedup_key],
        index_where=text("status <> 'resolved'"),
        set_={
            "occurrences": Alert.occurrences + 1,
            "last_seen_at": now,
            "message": statement.excluded.message,
            "details": statement.excluded.details,
            "severity": statement.excluded.severity,
        },
    ).returning(Alert.id, Alert.occurrences)
    row = (await session.execute(upsert_statement)).one()
    return row.id, row.occurrences


async def resolve(
    session: AsyncSession, *, tenant_id: uuid.UUID | None, dedup_key: str, now: datetime
) -> uuid.UUID | None:
    """Resolve the open alert of ``dedup_key`` automatically; its id, or None if none was open."""
    result = await session.execute(
        update(Alert)
        .where(
            Alert.tenant_id == tenant_id, Alert.dedup_key == dedup_key, Alert.status != "resolved"
        )
        .values(status="resolved", resolution="auto", resolved_at=now)
        .returning(Alert.id)
    )
    return result.scalar_one_or_none()
