"""Operator routes: create a tenant with its first admin key."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from herald.api.auth import State, operator
from herald.api.schemas import TenantCreated, TenantIn, TenantOut
from herald.api.service_layer.tenancy import create_tenant as add_tenant

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])


@router.post("", status_code=201, dependencies=[Depends(operator)])
async def create_tenant(body: TenantIn, state: State) -> TenantCreated:
    """Create a tenant and its first admin API key (shown once)."""
    async with state.db.transaction() as session:
        tenant, key = await add_tenant(session, body.name)
    return TenantCreated(tenant=TenantOut(id=tenant.id, name=tenant.name), api_key=key)
