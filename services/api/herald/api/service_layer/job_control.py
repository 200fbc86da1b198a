"""Cancel and manual retry of publish jobs (the API's routes and ``herald jobs`` use these).

Every change locks the job row, asks the pure rules in ``job_commands``, bumps the fencing
token where the job leaves a worker's hands, and stages its events in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.service_layer.errors import NotFound, Refused
from herald.common.db.models import OutboxMessage, PublishJob
from herald.common.domain.job_commands import (
    CancelEffect,
    can_retry_manually,
    cancel_effect,
    retried_status,
)
from herald.common.domain.job_states import JobStatus
from herald.common.events import Envelope, JobCancelled, JobRetryRequested, PublishRequested
from herald.common.live_updates import stage_job_change
from herald.common.outbox import stage


class JobCommandRefused(Refused):
    """The job's state does not allow the command; ``status`` is that state."""

    def __init__(self, code: str, title: str, status: str):
        super().__init__(
            code, title, f"a {status} job cannot be {title.rsplit(' ', 1)[-1]}", job_status=status
        )
        self.status = status


@dataclass(frozen=True)
class Outcome:
    job: PublishJob
    staged: list[OutboxMessage]


async def lock_job(
    session: AsyncSession, job_id: uuid.UUID, tenant_id: uuid.UUID | None
) -> PublishJob | None:
    """The job row, locked; ``tenant_id`` None only for operator commands."""
    query = select(PublishJob).where(PublishJob.id == job_id).with_for_update()
    if tenant_id is not None:
        query = query.where(PublishJob.tenant_id == tenant_id)
    return await session.scalar(query)


async def locked_or_missing(
    session: AsyncSession, job_id: uuid.UUID, tenant_id: uuid.UUID
) -> PublishJob:
    job = await lock_job(session, job_id, tenant_id)
    if job is None:
        raise NotFound("job")
    return job


def cancel(session: AsyncSession, job: PublishJob, now: datetime) -> Outcome:
    effect = cancel_effect(JobStatus(job.status))
    if effect is CancelEffect.REFUSED:
        raise JobCommandRefused("job_not_cancellable", "Job cannot be cancelled", job.status)
    if effect is CancelEffect.AFTER_CALL:
        job.cancel_requested_at = now
    else:
        job.status, job.finished_at, job.next_attempt_at = JobStatus.CANCELLED, now, None
        job.rate_slot_at = None
        job.lease_owner, job.lease_expires_at, job.version = None, None, job.version + 1
    event = JobCancelled(
        job_id=job.id, asset_id=job.asset_id, after_call=effect is CancelEffect.AFTER_CALL
    )
    staged = [stage(session, event, _wrap(event, job, now))]
    if effect is not CancelEffect.AFTER_CALL:  # mid-call, the status changes with the outcome
        staged.append(stage_job_change(session, job, now))
    return Outcome(job, staged)


def retry(session: AsyncSession, job: PublishJob, now: datetime) -> Outcome:
    """Back to queued with a fresh attempt budget; the attempts so far stay as the audit trail.
    A job its channel's refusal parked before its slot goes back to scheduled instead: the
    recovery sweep dispatches it at its slot (or marks it missed), never earlier."""
    current = JobStatus(job.status)
    if not can_retry_manually(current):
        raise JobCommandRefused("job_not_retryable", "Job cannot be retried", job.status)
    target = retried_status(current, job.scheduled_for, job.queued_at)
    job.status, job.attempt_base, job.version = target, job.attempts, job.version + 1
    if target is JobStatus.QUEUED:
        job.queued_at = job.requested_at = now
    job.finished_at = job.next_attempt_at = job.cancel_requested_at = job.rate_slot_at = None
    job.last_error_code = None
    notice = JobRetryRequested(job_id=job.id, asset_id=job.asset_id, previous_status=current)
    staged = [
        stage(session, notice, _wrap(notice, job, now)),
        stage_job_change(session, job, now),  # before the request: queued comes first
    ]
    if target is JobStatus.QUEUED:
        command = PublishRequested(job_id=job.id, priority=job.priority)
        staged.append(stage(session, command, _wrap(command, job, now)))
    return Outcome(job, staged)


def _wrap(
    event: JobCancelled | JobRetryRequested | PublishRequested, job: PublishJob, now: datetime
) -> Envelope:
    return Envelope.wrap(
        event,
        tenant_id=job.tenant_id,
        subject_id=job.id,
        now=now,
        idempotency_key=f"{event.type}:{job.id}:{job.version}",
    )


@dataclass(frozen=True)
class RedriveFilter:
    """Which dead jobs to send back: ``status`` failed, cancelled or missed; the rest narrow it."""

    status: str
    platform: str | None = None
    tenant_id: uuid.UUID | None = None  # None only for the operator's CLI
    channel_id: uuid.UUID | None = None
    limit: int = 1000


async def redrive_batch(
    session: AsyncSession,
    selection: RedriveFilter,
    after: uuid.UUID,
    size: int,
    now: datetime,
    *,
    dry_run: bool = False,
) -> tuple[list[PublishJob], list[OutboxMessage]]:
    """Retry the next ``size`` matching jobs with ids above ``after`` (keyset order)."""
    query = select(PublishJob).where(PublishJob.status == selection.status, PublishJob.id > after)
    for column, value in (
        (PublishJob.platform, selection.platform),
        (PublishJob.tenant_id, selection.tenant_id),
        (PublishJob.channel_id, selection.channel_id),
    ):
        if value is not None:
            query = query.where(column == value)
    batch = list(
        (
            await session.scalars(
                query.order_by(PublishJob.id).limit(size).with_for_update(skip_locked=True)
            )
        ).all()
    )
    staged: list[OutboxMessage] = []
    if not dry_run:
        for job in batch:
            staged += retry(session, job, now).staged
    return batch, staged


async def resume_waiting_auth(
    session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID, now: datetime
) -> tuple[list[PublishJob], list[OutboxMessage]]:
    """Requeue the channel's jobs parked in ``waiting_auth`` (it was re-authorized; those
    parked before their slot wait for it again); their events and publish requests, staged
    here, are to be relayed after the commit."""
    parked = await session.scalars(
        select(PublishJob)
        .where(
            PublishJob.tenant_id == tenant_id,
            PublishJob.channel_id == channel_id,
            PublishJob.status == JobStatus.WAITING_AUTH,
        )
        .order_by(PublishJob.id)
        .with_for_update()
    )
    jobs, staged = list(parked.all()), []
    for job in jobs:
        staged += retry(session, job, now).staged
    return jobs, staged
