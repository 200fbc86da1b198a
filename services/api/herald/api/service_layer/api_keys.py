"""API keys of a tenant: create (the key shown once), list, revoke (never the last admin key)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.auth import Role, digest, generate_key
from herald.api.service_layer.errors import Invalid, NotFound, Refused
from herald.common.db.models import ApiKey
from herald.common.ids import new_id


def create(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    name: str,
    role: Role,
    now: datetime,
    expires_at: datetime | None = None,
    created_by: uuid.UUID | None = None,
) -> tuple[ApiKey, str]:
    """Add a key to ``session``; returns the row and the plain key (only its digest is kept)."""
    if expires_at is not None and expires_at <= now:
        raise Invalid("invalid_expiry", "Expiry in the past", "expires_at must lie in the future")
    plain = generate_key()
    key = ApiKey(
        id=new_id(),
        tenant_id=tenant_id,
        name=name,
        role=role,
        prefix=plain[:10],
        key_hash=digest(plain),
        expires_at=expires_at,
        created_by=created_by,
    )
    session.add(key)
    return key, plain


async def page(
    session: AsyncSession, tenant_id: uuid.UUID, limit: int, cursor: uuid.UUID | None
) -> tuple[Sequence[ApiKey], uuid.UUID | None]:
    """Newest first (UUIDv7 ids), revoked and expired keys included."""
    query = select(ApiKey).where(ApiKey.tenant_id == tenant_id)
    if cursor is not None:
        query = query.where(ApiKey.id < cursor)
    rows = list((await session.scalars(query.order_by(ApiKey.id.desc()).limit(limit + 1))).all())
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


async def revoke(
    session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID, now: datetime
) -> ApiKey | None:
    """Revoke the key at once; None when it was already revoked (nothing changes).

    Refuses to revoke the tenant's last usable admin key: nobody could manage keys afterwards.
    """
    found = await session.scalar(
        select(ApiKey.role).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id)
    )
    if found is None:
        raise NotFound("api_key")
    if found == Role.ADMIN and await _lock_usable_admins(session, tenant_id, now) == [key_id]:
        raise Refused(
            "last_admin_key",
            "Cannot revoke the last admin key",
            "create another admin key first, then revoke this one",
        )
    key = await _locked(session, tenant_id, key_id)
    if key is None:
        raise NotFound("api_key")
    if key.revoked_at is not None:
        return None
    key.revoked_at = now
    return key


async def _locked(session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id)
    return await session.scalar(query.with_for_update())


async def _lock_usable_admins(
    session: AsyncSession, tenant_id: uuid.UUID, now: datetime
) -> list[uuid.UUID]:
    """Lock the tenant's usable admin keys (in id order, so concurrent revocations queue up
    instead of deadlocking); their ids."""
    admins = (
        select(ApiKey.id)
        .where(
            ApiKey.tenant_id == tenant_id,
            ApiKey.role == Role.ADMIN,
            ApiKey.revoked_at.is_(None),
            ApiKey.expires_at.is_(None) | (ApiKey.expires_at > now),
        )
        .order_by(ApiKey.id)
        .with_for_update()
    )
    return list((await session.scalars(admins)).all())
