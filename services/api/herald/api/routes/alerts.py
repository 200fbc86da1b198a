"""Alerts of the tenant: list (newest first, keyset pages), read, acknowledge, resolve."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.auth import Role, State, Who, require
from herald.api.schemas import AlertOut, AlertPage
from herald.api.service_layer.errors import NotFound, Refused
from herald.common.db.models import Alert

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("")
async def list_alerts(
    who: Who,
    state: State,
    status: Literal["active", "acknowledged", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: uuid.UUID | None = None,
) -> AlertPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    query = select(Alert).where(Alert.tenant_id == who.tenant_id)
    if status is not None:
        query = query.where(Alert.status == status)
    if cursor is not None:
        query = query.where(Alert.id < cursor)
    async with state.db.transaction() as session:
        rows = (await session.scalars(query.order_by(Alert.id.desc()).limit(limit + 1))).all()
    page = [AlertOut.model_validate(a, from_attributes=True) for a in rows[:limit]]
    return AlertPage(items=page, next_cursor=page[-1].id if len(rows) > limit else None)


@router.get("/{alert_id}")
async def get_alert(alert_id: uuid.UUID, who: Who, state: State) -> AlertOut:
    async with state.db.transaction() as session:
        return AlertOut.model_validate(
            await _alert(session, who.tenant_id, alert_id), from_attributes=True
        )


@router.post("/{alert_id}/acknowledge", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def acknowledge_alert(alert_id: uuid.UUID, who: Who, state: State) -> AlertOut:
    """Someone is on it: the alert stays open (repeats still count) but is no longer new."""
    async with state.db.transaction() as session:
        alert = await _alert(session, who.tenant_id, alert_id, lock=True)
        if alert.status != "active":
            raise Refused(
                "alert_not_active",
                "Only an active alert can be acknowledged",
                f"the alert is {alert.status}",
                alert_status=alert.status,
            )
        alert.status = "acknowledged"
        return AlertOut.model_validate(alert, from_attributes=True)


@router.post("/{alert_id}/resolve", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def resolve_alert(alert_id: uuid.UUID, who: Who, state: State) -> AlertOut:
    async with state.db.transaction() as session:
        alert = await _alert(session, who.tenant_id, alert_id, lock=True)
        if alert.status == "resolved":
            raise Refused(
                "alert_resolved", "The alert is already resolved", alert_status=alert.status
            )
        alert.status, alert.resolution, alert.resolved_at = "resolved", "manual", datetime.now(UTC)
        return AlertOut.model_validate(alert, from_attributes=True)


async def _alert(
    session: AsyncSession, tenant_id: uuid.UUID, alert_id: uuid.UUID, *, lock: bool = False
) -> Alert:
    query = select(Alert).where(Alert.id == alert_id, Alert.tenant_id == tenant_id)
    alert = await session.scalar(query.with_for_update() if lock else query)
    if alert is None:
        raise NotFound("alert")
    return alert
