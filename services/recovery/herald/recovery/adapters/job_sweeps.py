"""The SQL of the job sweeps: claim a bounded batch with SKIP LOCKED, mark it requested.

Several recovery replicas can sweep at once: each row is taken by one of them, and every
re-request is harmless anyway because claims are idempotent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from herald.common.db.models import PublishJob
from herald.common.domain.job_states import JobStatus
from herald.recovery.domain.sweep_policy import Cutoffs, is_missed


@dataclass(frozen=True)
class Stranded:
    job_id: uuid.UUID
    tenant_id: uuid.UUID
    priority: str
    reason: str  # scheduled_due | missed | queued_stale | retry_overdue | lease_expired | uncertain
    asset_id: uuid.UUID
    channel_id: uuid.UUID
    platform: str


def _stale(cutoffs: Cutoffs) -> ColumnElement[bool]:
    not_recent = or_(
        PublishJob.requested_at.is_(None), PublishJob.requested_at < cutoffs.requested_before
    )
    return and_(
        not_recent,
        or_(
            PublishJob.status == JobStatus.QUEUED,
            and_(
                PublishJob.status == JobStatus.RETRYING,
                PublishJob.next_attempt_at < cutoffs.retry_due_before,
            ),
            and_(
                PublishJob.status == JobStatus.PROCESSING,
                PublishJob.lease_expires_at < cutoffs.lease_expired_before,
            ),
            PublishJob.status == JobStatus.UNCERTAIN,
        ),
    )


async def dispatch_due(
    session: AsyncSession, cutoffs: Cutoffs, now: datetime, limit: int
) -> list[Stranded]:
    """Move scheduled jobs that are due to queued, or to missed when too late for their asset."""
    due = (
        select(PublishJob)
        .where(PublishJob.status == JobStatus.SCHEDULED, PublishJob.scheduled_for <= cutoffs.due_by)
        .order_by(PublishJob.scheduled_for)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    found = []
    for job in (await session.scalars(due)).all():
        if is_missed(job.scheduled_for or now, job.publish_late_within_s, now):
            job.status, job.finished_at, job.last_error_code = JobStatus.MISSED, now, "missed_slot"
            reason = "missed"
        else:
            job.status, job.queued_at, job.requested_at = JobStatus.QUEUED, now, now
            reason = "scheduled_due"
        job.updated_at = now
        found.append(
            Stranded(
                job.id,
                job.tenant_id,
                job.priority,
                reason,
                job.asset_id,
                job.channel_id,
                job.platform,
            )
        )
    await session.flush()
    return found


async def request_stranded(
    session: AsyncSession, cutoffs: Cutoffs, now: datetime, limit: int
) -> list[Stranded]:
    """Mark jobs whose request was lost (or whose worker died) as requested again."""
    stale = (
        select(PublishJob.id, PublishJob.status)
        .where(_stale(cutoffs))
        .order_by(PublishJob.requested_at.nulls_first())
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).subquery()
    rows = await session.execute(
        update(PublishJob)
        .where(PublishJob.id == stale.c.id)
        .values(requested_at=now)
        .returning(
            PublishJob.id,
            PublishJob.tenant_id,
            PublishJob.priority,
            stale.c.status,
            PublishJob.asset_id,
            PublishJob.channel_id,
            PublishJob.platform,
        )
    )
    reasons = {
        JobStatus.QUEUED: "queued_stale",
        JobStatus.RETRYING: "retry_overdue",
        JobStatus.PROCESSING: "lease_expired",
        JobStatus.UNCERTAIN: "uncertain",
    }
    return [
        Stranded(
            r.id,
            r.tenant_id,
            r.priority,
            reasons[JobStatus(r.status)],
            r.asset_id,
            r.channel_id,
            r.platform,
        )
        for r in rows
    ]
