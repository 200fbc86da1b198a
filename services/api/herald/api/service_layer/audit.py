"""The audit log: who did what to which entity, written in the same transaction as the change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BindParameter, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.auth import Principal
from herald.common.db.models import AuditEvent
from herald.common.ids import new_id

OPERATOR = "operator"
CLI = "cli"


def record(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    actor: Principal | str,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | None,
    **details: Any,
) -> AuditEvent:
    """Add one audit event to ``session``; ``actor`` is the request's key, or who else acted.

    ``details`` must hold no secret: they are returned by ``GET /v1/audit``.
    """
    event = AuditEvent(**_values(tenant_id, actor, action, subject_type, subject_id, details))
    session.add(event)
    return event


_AUDIT = cast(Table, AuditEvent.__table__)
_AUDITED = (
    "id",
    "tenant_id",
    "actor",
    "actor_key_id",
    "actor_role",
    "action",
    "subject_type",
    "subject_id",
    "details",
)


def audit_binds() -> dict[str, BindParameter[Any]]:
    """The bind parameters of an audit row a prebuilt statement writes, by column (named
    ``audit_<column>``, never a column's own name); ``audit_params`` fills them."""
    return {name: bindparam(f"audit_{name}", type_=_AUDIT.c[name].type) for name in _AUDITED}


def audit_params(
    tenant_id: uuid.UUID,
    actor: Principal | str,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | None,
    **details: Any,
) -> dict[str, Any]:
    """``record``'s row as the values of ``audit_binds`` (the approval's way: its statement
    writes the audit row with everything else)."""
    values = _values(tenant_id, actor, action, subject_type, subject_id, details)
    return {f"audit_{name}": values[name] for name in _AUDITED}


def _values(
    tenant_id: uuid.UUID,
    actor: Principal | str,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    key = actor if isinstance(actor, Principal) else None
    return {
        "id": new_id(),
        "tenant_id": tenant_id,
        "actor": f"key:{key.key_id}" if key else str(actor),
        "actor_key_id": key.key_id if key else None,
        "actor_role": key.role.value if key else None,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": details,
    }


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    subject_id: uuid.UUID | None = None
    actor_key_id: uuid.UUID | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None


async def page(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    where: AuditFilter,
    limit: int,
    cursor: uuid.UUID | None,
) -> tuple[list[AuditEvent], uuid.UUID | None]:
    """Newest first, keyset over the UUIDv7 id (``ix_audit_events_tenant_id_id``, or
    ``ix_audit_events_tenant_subject`` with a subject)."""
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    for column, value in (
        (AuditEvent.action, where.action),
        (AuditEvent.subject_id, where.subject_id),
        (AuditEvent.actor_key_id, where.actor_key_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.occurred_after is not None:
        query = query.where(AuditEvent.occurred_at >= where.occurred_after)
    if where.occurred_before is not None:
        query = query.where(AuditEvent.occurred_at < where.occurred_before)
    if cursor is not None:
        query = query.where(AuditEvent.id < cursor)
    query = query.order_by(AuditEvent.id.desc()).limit(limit + 1)
    rows = list((await session.scalars(query)).all())
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None
