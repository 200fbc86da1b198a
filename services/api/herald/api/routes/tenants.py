"""Operator routes: create a tenant with its first admin key."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from herald.api.auth import Role, State, digest, generate_key, operator
from herald.api.schemas import TenantCreated, TenantIn, TenantOut
from herald.common.db.models import ApiKey, Tenant
from herald.common.ids import new_id

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])


@router.post("", status_code=201, dependencies=[Depends(operator)])
async def create_tenant(body: TenantIn, state: State) -> TenantCreated:
    """Create a tenant and its first admin API key (shown once)."""
    key = generate_key()
    tenant = Tenant(id=new_id(), name=body.name)
    async with state.db.transaction() as session:
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
    return TenantCreated(tenant=TenantOut(id=tenant.id, name=tenant.name), api_key=key)
