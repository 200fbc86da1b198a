"""Creating tenants with their first admin key (used by the API and by ``herald tenants``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.auth import Role, digest, generate_key
from herald.common.db.models import ApiKey, Tenant
from herald.common.ids import new_id


async def create_tenant(session: AsyncSession, name: str) -> tuple[Tenant, str]:
    """Add a tenant and an admin key to ``session``; returns the tenant and the plain key."""
    key = generate_key()
    tenant = Tenant(id=new_id(), name=name)
    session.add(tenant)
    await session.flush()
    session.add(
        ApiKey(
            tenant_id=tenant.id,
            name="first admin key",
            role=Role.ADMIN,
            prefix=key[:10],
            key_hash=digest(key),
        )
    )
    await session.flush()
    return tenant, key
