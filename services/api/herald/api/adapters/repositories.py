"""Queries of the API, one small repository per aggregate; the tenant is always an argument."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Select, Table, Text, any_, bindparam, func, select, tuple_
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.models import Asset, Channel, PublishAttempt, PublishJob

# The approval's statements, built once with bind parameters (building a statement costs more
# CPU than running it).
_ASSET = select(Asset).where(
    Asset.id == bindparam("asset_id"), Asset.tenant_id == bindparam("tenant")
)
_ASSET_LOCKED = _ASSET.with_for_update()
_CHANNELS = cast(Table, Channel.__table__)  # Core: plain rows, no ORM compilation
_PLATFORMS = select(_CHANNELS.c.id, _CHANNELS.c.platform).where(
    _CHANNELS.c.tenant_id == bindparam("tenant"),
    _CHANNELS.c.id.in_(bindparam("ids", expanding=True)),
)

# The asset locked and the platforms of its channels (this tenant's only), in one statement:
# one round trip fewer on the approval, the API's hot path
_ASSET_FOR_APPROVAL = (
    select(
        Asset,
        select(func.jsonb_object_agg(sql_cast(_CHANNELS.c.id, Text), _CHANNELS.c.platform))
        .where(
            _CHANNELS.c.tenant_id == bindparam("tenant"), _CHANNELS.c.id == any_(Asset.channel_ids)
        )
        .scalar_subquery(),
    )
    .where(Asset.id == bindparam("asset_id"), Asset.tenant_id == bindparam("tenant"))
    .with_for_update(of=Asset)
)


class ChannelRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID):
        self.session, self.tenant_id = session, tenant_id

    async def get(self, channel_id: uuid.UUID) -> Channel | None:
        return await self.session.scalar(
            select(Channel).where(Channel.id == channel_id, Channel.tenant_id == self.tenant_id)
        )

    async def page(
        self, platform: str | None, limit: int, cursor: uuid.UUID | None
    ) -> tuple[list[Channel], uuid.UUID | None]:
        """Newest first (UUIDv7 ids sort by creation time); the next cursor or None."""
        query = select(Channel).where(Channel.tenant_id == self.tenant_id)
        if platform is not None:
            query = query.where(Channel.platform == platform)
        if cursor is not None:
            query = query.where(Channel.id < cursor)
        query = query.order_by(Channel.id.desc()).limit(limit + 1)
        rows = list((await self.session.scalars(query)).all())
        return rows[:limit], rows[limit - 1].id if len(rows) > limit else None

    async def platforms_of(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Platform of each id that is one of this tenant's channels (others are absent)."""
        rows = await self.session.execute(_PLATFORMS, {"tenant": self.tenant_id, "ids": list(ids)})
        return {row.id: row.platform for row in rows}


class AssetRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID):
        self.session, self.tenant_id = session, tenant_id

    async def get(self, asset_id: uuid.UUID, *, for_update: bool = False) -> Asset | None:
        query = _ASSET_LOCKED if for_update else _ASSET
        return await self.session.scalar(query, {"asset_id": asset_id, "tenant": self.tenant_id})

    async def for_approval(self, asset_id: uuid.UUID) -> tuple[Asset, dict[uuid.UUID, str]] | None:
        """The asset, locked, and the platform of each of its channels that is one of this
        tenant's (``ChannelRepository.platforms_of``), read together."""
        row = (
            await self.session.execute(
                _ASSET_FOR_APPROVAL, {"asset_id": asset_id, "tenant": self.tenant_id}
            )
        ).first()
        if row is None:
            return None
        asset, platforms = row
        return asset, {uuid.UUID(key): value for key, value in (platforms or {}).items()}

    async def jobs(self, asset_id: uuid.UUID, *, for_update: bool = False) -> Sequence[PublishJob]:
        query = select(PublishJob).where(
            PublishJob.asset_id == asset_id, PublishJob.tenant_id == self.tenant_id
        )
        query = query.order_by(PublishJob.id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.scalars(query)).all()

    async def jobs_of(self, asset_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[PublishJob]]:
        if not asset_ids:
            return {}
        query = select(PublishJob).where(
            PublishJob.asset_id.in_(list(asset_ids)), PublishJob.tenant_id == self.tenant_id
        )
        found: dict[uuid.UUID, list[PublishJob]] = {}
        for job in await self.session.scalars(query.order_by(PublishJob.id)):
            found.setdefault(job.asset_id, []).append(job)
        return found

    async def page(
        self, status: str | None, limit: int, cursor: uuid.UUID | None
    ) -> tuple[list[Asset], uuid.UUID | None]:
        """Newest first over ``ix_assets_tenant_id_id`` (or ``…_status_id``): UUIDv7 ids sort
        by creation time."""
        query = select(Asset).where(Asset.tenant_id == self.tenant_id)
        if status is not None:
            query = query.where(Asset.status == status)
        if cursor is not None:
            query = query.where(Asset.id < cursor)
        query = query.order_by(Asset.id.desc()).limit(limit + 1)
        rows = list((await self.session.scalars(query)).all())
        return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


@dataclass(frozen=True)
class JobFilter:
    """What ``GET /v1/jobs`` narrows by; None means any. ``created_after`` is inclusive,
    ``created_before`` exclusive."""

    status: str | None = None
    platform: str | None = None
    channel_id: uuid.UUID | None = None
    asset_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def apply(self, query: Select[PublishJob]) -> Select[PublishJob]:
        for column, value in (
            (PublishJob.status, self.status),
            (PublishJob.platform, self.platform),
            (PublishJob.channel_id, self.channel_id),
            (PublishJob.asset_id, self.asset_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.created_after is not None:
            query = query.where(PublishJob.created_at >= self.created_after)
        if self.created_before is not None:
            query = query.where(PublishJob.created_at < self.created_before)
        return query


class JobRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID):
        self.session, self.tenant_id = session, tenant_id

    async def get(self, job_id: uuid.UUID) -> PublishJob | None:
        return await self.session.scalar(
            select(PublishJob).where(
                PublishJob.id == job_id, PublishJob.tenant_id == self.tenant_id
            )
        )

    async def attempts(self, job_id: uuid.UUID) -> Sequence[PublishAttempt]:
        query = select(PublishAttempt).where(
            PublishAttempt.job_id == job_id, PublishAttempt.tenant_id == self.tenant_id
        )
        return (await self.session.scalars(query.order_by(PublishAttempt.number))).all()

    async def page(
        self, where: JobFilter, limit: int, cursor: uuid.UUID | None
    ) -> tuple[list[PublishJob], uuid.UUID | None]:
        """Newest first (``created_at``, then ``id``); the next cursor (the last job's id) or
        None. Keyset over ``ix_publish_jobs_tenant_created`` and, with a status,
        ``ix_publish_jobs_tenant_status_created``: a page costs the same at any table size.

        The cursor's own ``created_at`` is looked up in the same statement; a cursor that is
        not one of the tenant's jobs gives an empty page."""
        query = where.apply(select(PublishJob).where(PublishJob.tenant_id == self.tenant_id))
        if cursor is not None:
            at = (
                select(PublishJob.created_at)
                .where(PublishJob.id == cursor, PublishJob.tenant_id == self.tenant_id)
                .scalar_subquery()
            )
            after = bindparam("cursor_id", cursor, type_=PublishJob.__table__.c.id.type)
            query = query.where(tuple_(PublishJob.created_at, PublishJob.id) < tuple_(at, after))
        query = query.order_by(PublishJob.created_at.desc(), PublishJob.id.desc())
        rows = list((await self.session.scalars(query.limit(limit + 1))).all())
        return rows[:limit], rows[limit - 1].id if len(rows) > limit else None
