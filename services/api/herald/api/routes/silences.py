"""Silences: a tenant mutes notifications of matching alerts until a time, with a reason.

Silenced alerts are still stored and counted; only their notifications are held back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from herald.api.auth import Role, State, Who, require
from herald.api.schemas import SilenceIn, SilenceOut, SilencePage
from herald.api.service_layer import alerts, audit
from herald.common.db.models import Silence

router = APIRouter(prefix="/v1/silences", tags=["alerts"])


def _out(silence: Silence, now: datetime) -> SilenceOut:
    return SilenceOut.model_validate(
        {
            **{c: getattr(silence, c) for c in SilenceOut.model_fields if c != "active"},
            "active": silence.starts_at <= now < silence.ends_at,
        }
    )


@router.post("", status_code=201, dependencies=[require(Role.REVIEWER)])
async def create_silence(body: SilenceIn, who: Who, state: State) -> SilenceOut:
    now = datetime.now(UTC)
    request = alerts.SilenceRequest(**body.model_dump())
    async with state.db.transaction(who.tenant_id) as session:
        silence = await alerts.create_silence(session, who.tenant_id, who.key_id, request, now)
        await session.flush()
        audit.record(
            session,
            who.tenant_id,
            who,
            "silence.created",
            "silence",
            silence.id,
            reason=body.reason,
        )
        await session.refresh(silence)
        return _out(silence, now)


@router.get("")
async def list_silences(
    who: Who,
    state: State,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: uuid.UUID | None = None,
) -> SilencePage:
    """Newest first; ``active=true`` only those muting now, ``false`` only ended or future."""
    now = datetime.now(UTC)
    query = select(Silence).where(Silence.tenant_id == who.tenant_id)
    is_active = (Silence.starts_at <= now) & (Silence.ends_at > now)
    if active is not None:
        query = query.where(is_active if active else ~is_active)
    if cursor is not None:
        query = query.where(Silence.id < cursor)
    async with state.db.transaction(who.tenant_id) as session:
        rows = list(await session.scalars(query.order_by(Silence.id.desc()).limit(limit + 1)))
    items = [_out(s, now) for s in rows[:limit]]
    return SilencePage(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


@router.get("/{silence_id}")
async def get_silence(silence_id: uuid.UUID, who: Who, state: State) -> SilenceOut:
    async with state.db.transaction(who.tenant_id) as session:
        return _out(await alerts.silence_of(session, who.tenant_id, silence_id), datetime.now(UTC))


@router.delete("/{silence_id}", status_code=204, dependencies=[require(Role.REVIEWER)])
async def expire_silence(silence_id: uuid.UUID, who: Who, state: State) -> Response:
    """End the silence now; it stays listed as expired."""
    async with state.db.transaction(who.tenant_id) as session:
        silence = await alerts.silence_of(session, who.tenant_id, silence_id, lock=True)
        alerts.expire_silence(silence, datetime.now(UTC))
        audit.record(session, who.tenant_id, who, "silence.expired", "silence", silence_id)
    return Response(status_code=204)
