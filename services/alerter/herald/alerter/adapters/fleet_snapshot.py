"""What the threshold rules read from the database, in a few bounded aggregate queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, distinct, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.alerter.domain.rules import FailureRate, FleetSnapshot, Heartbeat
from herald.common.db.models import PublishAttempt, PublishJob, ServiceHeartbeat

LEASE_GRACE = timedelta(seconds=60)
"""A lease expired this long ago should have been taken over by the recovery service."""


@dataclass(frozen=True)
class ChannelRate:
    tenant_id: uuid.UUID
    channel_id: uuid.UUID
    attempts: int
    failures: int

    @property
    def rate(self) -> float:
        return self.failures / self.attempts if self.attempts else 0.0


async def read_snapshot(
    session: AsyncSession, now: datetime, window_s: float, stuck_s: float
) -> FleetSnapshot:
    oldest, queued = (
        await session.execute(
            select(
                func.min(func.coalesce(PublishJob.queued_at, PublishJob.created_at)), func.count()
            ).where(PublishJob.status == "queued")
        )
    ).one()
    open_attempt_too_long = exists().where(
        PublishAttempt.job_id == PublishJob.id,
        PublishAttempt.outcome.is_(None),
        PublishAttempt.started_at < now - timedelta(seconds=stuck_s),
    )
    stuck = await session.scalar(
        select(func.count()).where(
            PublishJob.status == "processing",
            or_(PublishJob.lease_expires_at < now - LEASE_GRACE, open_attempt_too_long),
        )
    )
    beats = await session.execute(
        select(
            ServiceHeartbeat.service, ServiceHeartbeat.instance_id, ServiceHeartbeat.last_seen_at
        )
    )
    return FleetSnapshot(
        oldest_queued_at=oldest,
        queued=queued,
        stuck_processing=stuck or 0,
        heartbeats=tuple(Heartbeat(*row) for row in beats),
        platform_rates=tuple(await platform_rates(session, now, window_s)),
    )


def _recent(now: datetime, window_s: float) -> list[ColumnElement[bool]]:
    return [
        PublishAttempt.finished_at >= now - timedelta(seconds=window_s),
        PublishAttempt.outcome.is_not(None),
    ]


FAILED = and_(PublishAttempt.outcome.is_not(None), PublishAttempt.outcome != "succeeded")


async def platform_rates(
    session: AsyncSession, now: datetime, window_s: float
) -> list[FailureRate]:
    rows = await session.execute(
        select(
            PublishJob.tenant_id,
            PublishJob.platform,
            func.count(),
            func.count().filter(FAILED),
            func.count(distinct(PublishJob.channel_id)).filter(FAILED),
        )
        .join(PublishJob, PublishJob.id == PublishAttempt.job_id)
        .where(*_recent(now, window_s))
        .group_by(PublishJob.tenant_id, PublishJob.platform)
    )
    return [FailureRate(*row) for row in rows]


async def channel_rates(session: AsyncSession, now: datetime, window_s: float) -> list[ChannelRate]:
    rows = await session.execute(
        select(
            PublishJob.tenant_id, PublishJob.channel_id, func.count(), func.count().filter(FAILED)
        )
        .join(PublishJob, PublishJob.id == PublishAttempt.job_id)
        .where(*_recent(now, window_s))
        .group_by(PublishJob.tenant_id, PublishJob.channel_id)
    )
    return [ChannelRate(*row) for row in rows]


async def forget_heartbeats(session: AsyncSession, now: datetime, forget_s: float) -> int:
    """Drop heartbeat rows of instances silent for longer than ``forget_s`` (their alert ends)."""
    result = await session.execute(
        delete(ServiceHeartbeat).where(
            ServiceHeartbeat.last_seen_at < now - timedelta(seconds=forget_s)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
