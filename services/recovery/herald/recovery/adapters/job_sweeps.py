"""The SQL of the job sweeps: claim a bounded batch with SKIP LOCKED, mark it requested.

Several recovery replicas can sweep at once: each row is taken by one of them, and every
re-request is harmless anyway because claims are idempotent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.engine import Database
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


_JOBS = cast(Table, PublishJob.__table__)
_DUE = and_(_JOBS.c.status == JobStatus.SCHEDULED, _JOBS.c.scheduled_for <= bindparam("due_by"))
"""A scheduled job whose time has come."""
_STALE = and_(
    or_(_JOBS.c.requested_at.is_(None), _JOBS.c.requested_at < bindparam("requested_before")),
    or_(
        _JOBS.c.status == JobStatus.QUEUED,
        and_(
            _JOBS.c.status == JobStatus.RETRYING,
            _JOBS.c.next_attempt_at < bindparam("retry_due_before"),
        ),
        and_(
            _JOBS.c.status == JobStatus.PROCESSING,
            _JOBS.c.lease_expires_at < bindparam("lease_expired_before"),
        ),
        _JOBS.c.status == JobStatus.UNCERTAIN,
    ),
)
"""A live job whose request was not heeded for its cutoff (``Cutoffs``)."""
_ANY_TO_SWEEP = select(or_(exists().where(_DUE), exists().where(_STALE)))
"""Built once, with the cutoffs as parameters: nearly every sweep finds nothing to do, and
asks only this."""


def cutoff_params(cutoffs: Cutoffs) -> dict[str, datetime]:
    """The parameters of ``_DUE`` and ``_STALE`` (pure)."""
    return {
        "due_by": cutoffs.due_by,
        "requested_before": cutoffs.requested_before,
        "retry_due_before": cutoffs.retry_due_before,
        "lease_expired_before": cutoffs.lease_expired_before,
    }


async def any_to_sweep(db: Database, cutoffs: Cutoffs) -> bool:
    """Whether a scheduled job is due or a job is stranded: one read, no transaction."""
    return await db.holds(_ANY_TO_SWEEP, cutoff_params(cutoffs))


async def dispatch_due(
    session: AsyncSession, cutoffs: Cutoffs, now: datetime, limit: int
) -> list[Stranded]:
    """Move scheduled jobs that are due to queued, or to missed when too late for their asset."""
    due = (
        select(PublishJob)
        .where(_DUE)
        .order_by(PublishJob.scheduled_for)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    found = []
    for job in (await session.scalars(due, {"due_by": cutoffs.due_by})).all():
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
        .where(_STALE)
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
        ),
        cutoff_params(cutoffs),
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
