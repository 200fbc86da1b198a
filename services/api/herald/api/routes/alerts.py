"""Alerts of the tenant: list (filters, newest first, keyset pages), read, acknowledge, resolve."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from herald.api.auth import Role, State, Who, operator, require
from herald.api.schemas import AlertOut, AlertPage
from herald.api.service_layer import alerts, audit

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
system_router = APIRouter(prefix="/v1/system/alerts", tags=["system"])

Severity = Literal["info", "warning", "error", "critical"]


@router.get("")
async def list_alerts(
    who: Who,
    state: State,
    status: Literal["active", "acknowledged", "resolved"] | None = None,
    severity: Severity | None = None,
    category: Annotated[str | None, Query(max_length=50, pattern=r"^[a-z_]+$")] = None,
    channel_id: uuid.UUID | None = None,
    platform: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z0-9_]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: uuid.UUID | None = None,
) -> AlertPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    where = alerts.AlertFilter(status, severity, category, channel_id, platform)
    async with state.db.transaction(who.tenant_id) as session:
        rows, next_cursor = await alerts.page_of_alerts(
            session, who.tenant_id, where, limit, cursor
        )
        items = [AlertOut.model_validate(a, from_attributes=True) for a in rows]
    return AlertPage(items=items, next_cursor=next_cursor)


@router.get("/{alert_id}")
async def get_alert(alert_id: uuid.UUID, who: Who, state: State) -> AlertOut:
    async with state.db.transaction(who.tenant_id) as session:
        alert = await alerts.alert_of(session, who.tenant_id, alert_id)
        return AlertOut.model_validate(alert, from_attributes=True)


@router.post("/{alert_id}/acknowledge", dependencies=[require(Role.REVIEWER)])
async def acknowledge_alert(alert_id: uuid.UUID, who: Who, state: State) -> AlertOut:
    """Someone is on it: the alert stays open (repeats still count) but is no longer new."""
    async with state.db.transaction(who.tenant_id) as session:
        alert = await alerts.alert_of(session, who.tenant_id, alert_id, lock=True)
        staged = alerts.acknowledge(session, alert, datetime.now(UTC))
        audit.record(session, who.tenant_id, who, "alert.acknowledged", "alert", alert_id)
        body = AlertOut.model_validate(alert, from_attributes=True)
    await state.relay.send(staged)
    return body


@router.post("/{alert_id}/resolve", dependencies=[require(Role.REVIEWER)])
async def resolve_alert(alert_id: uuid.UUID, who: Who, state: State) -> AlertOut:
    """Close the alert by hand (``manual``); its endpoints receive ``alert.resolved``."""
    async with state.db.transaction(who.tenant_id) as session:
        alert = await alerts.alert_of(session, who.tenant_id, alert_id, lock=True)
        staged = alerts.resolve(session, alert, datetime.now(UTC))
        audit.record(session, who.tenant_id, who, "alert.resolved", "alert", alert_id)
        body = AlertOut.model_validate(alert, from_attributes=True)
    await state.relay.send(staged)
    return body


@system_router.get("", dependencies=[Depends(operator)])
async def list_system_alerts(
    state: State,
    status: Literal["active", "acknowledged", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: uuid.UUID | None = None,
) -> AlertPage:
    """Operator-wide alerts (backlog, stuck jobs, silent services), with the operator token."""
    async with state.db.transaction() as session:
        rows, next_cursor = await alerts.page_of_alerts(
            session, None, alerts.AlertFilter(status), limit, cursor
        )
        items = [AlertOut.model_validate(a, from_attributes=True) for a in rows]
    return AlertPage(items=items, next_cursor=next_cursor)
