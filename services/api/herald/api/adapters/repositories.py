"""Queries of the API, one small repository per aggregate; the tenant is always an argument."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.models import Asset, Channel, PublishAttempt, PublishJob


class ChannelRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID):
        self.session, self.tenant_id = session, tenant_id

    async def get(self, channel_id: uuid.UUID) -> Channel | None:
        return await self.session.scalar(
            select(Channel).where(Channel.id == channel_id, Channel.tenant_id == self.tenant_id)
        )

    async def list(self, limit: int = 100) -> Sequence[Channel]:
        query = select(Channel).where(Channel.tenant_id == self.tenant_id)
        return (await self.session.scalars(query.order_by(Channel.id).limit(limit))).all()

    async def platforms_of(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Platform of each id that is one of this tenant's channels (others are absent)."""
        rows = await self.session.execute(
            select(Channel.id, Channel.platform).where(
                Channel.tenant_id == self.tenant_id, Channel.id.in_(list(ids))
            )
        )
        return {row.id: row.platform for row in rows}


class AssetRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID):
        self.session, self.tenant_id = session, tenant_id

    async def get(self, asset_id: uuid.UUID, *, for_update: bool = False) -> Asset | None:
        query = select(Asset).where(Asset.id == asset_id, Asset.tenant_id == self.tenant_id)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def jobs(self, asset_id: uuid.UUID) -> Sequence[PublishJob]:
        query = select(PublishJob).where(
            PublishJob.asset_id == asset_id, PublishJob.tenant_id == self.tenant_id
        )
        return (await self.session.scalars(query.order_by(PublishJob.id))).all()


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
