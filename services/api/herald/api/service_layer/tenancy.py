"""Creating tenants with their first admin key (used by the API and by ``herald tenants``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.auth import Role
from herald.api.service_layer import api_keys, audit
from herald.common.db.models import Tenant
from herald.common.ids import new_id


async def create_tenant(
    session: AsyncSession, name: str, actor: str = audit.OPERATOR
) -> tuple[Tenant, str]:
    """Add a tenant and an admin key to ``session``; returns the tenant and the plain key."""
    tenant = Tenant(id=new_id(), name=name)
    session.add(tenant)
    await session.flush()
    row, key = api_keys.create(session, tenant.id, "first admin key", Role.ADMIN, datetime.now(UTC))
    audit.record(session, tenant.id, actor, "tenant.created", "tenant", tenant.id, name=name)
    audit.record(session, tenant.id, actor, "api_key.created", "api_key", row.id, role="admin")
    await session.flush()
    return tenant, key
