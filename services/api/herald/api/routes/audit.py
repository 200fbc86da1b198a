"""The audit log of the caller's tenant: who did what, when (admins and reviewers)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from herald.api.auth import Role, State, Who, require
from herald.api.schemas import AuditEventOut, AuditPage, UtcDatetime
from herald.api.service_layer import audit

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", dependencies=[require(Role.REVIEWER)])
async def list_audit_events(
    who: Who,
    state: State,
    action: Annotated[
        str | None, Query(max_length=60, pattern=r"^[a-z_]+\.[a-z_]+$", examples=["asset.approved"])
    ] = None,
    subject_id: uuid.UUID | None = None,
    actor_key_id: uuid.UUID | None = None,
    occurred_after: Annotated[UtcDatetime | None, Query(description="inclusive")] = None,
    occurred_before: Annotated[UtcDatetime | None, Query(description="exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: uuid.UUID | None = None,
) -> AuditPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    where = audit.AuditFilter(action, subject_id, actor_key_id, occurred_after, occurred_before)
    async with state.db.transaction(who.tenant_id) as session:
        rows, next_cursor = await audit.page(session, who.tenant_id, where, limit, cursor)
        items = [AuditEventOut.model_validate(e, from_attributes=True) for e in rows]
    return AuditPage(items=items, next_cursor=next_cursor)
