"""API keys of the caller's tenant (admins only): create (shown once), list, revoke."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Response

from herald.api.auth import Role, State, Who, require
from herald.api.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut, ApiKeyPage
from herald.api.service_layer import api_keys, audit

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"], dependencies=[require(Role.ADMIN)])
log = structlog.get_logger(__name__)


@router.post("", status_code=201)
async def create_api_key(body: ApiKeyIn, who: Who, state: State) -> ApiKeyCreated:
    """A new key for this tenant with the role given; the key is in the response, only once."""
    async with state.db.transaction(who.tenant_id) as session:
        key, plain = api_keys.create(
            session,
            who.tenant_id,
            body.name,
            Role(body.role),
            datetime.now(UTC),
            body.expires_at,
            created_by=who.key_id,
        )
        audit.record(
            session, who.tenant_id, who, "api_key.created", "api_key", key.id, role=body.role
        )
        await session.flush()
        await session.refresh(key)
        out = ApiKeyCreated.model_validate(
            {**ApiKeyOut.model_validate(key, from_attributes=True).model_dump(), "api_key": plain}
        )
    log.info("api_key.created", key_id=str(key.id), role=body.role, prefix=key.prefix)
    return out


@router.get("")
async def list_api_keys(
    who: Who,
    state: State,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: uuid.UUID | None = None,
) -> ApiKeyPage:
    """Newest first, revoked and expired keys included; never the keys themselves."""
    async with state.db.transaction(who.tenant_id) as session:
        rows, next_cursor = await api_keys.page(session, who.tenant_id, limit, cursor)
        items = [ApiKeyOut.model_validate(k, from_attributes=True) for k in rows]
    return ApiKeyPage(items=items, next_cursor=next_cursor)


@router.delete("/{key_id}", status_code=204)
async def revoke_api_key(key_id: uuid.UUID, who: Who, state: State) -> Response:
    """Revoke at once (requests with it get 401 from now on); revoking twice is harmless."""
    async with state.db.transaction(who.tenant_id) as session:
        revoked = await api_keys.revoke(session, who.tenant_id, key_id, datetime.now(UTC))
        if revoked is not None:
            audit.record(session, who.tenant_id, who, "api_key.revoked", "api_key", key_id)
    if revoked is not None:
        log.info("api_key.revoked", key_id=str(key_id))
    return Response(status_code=204)
