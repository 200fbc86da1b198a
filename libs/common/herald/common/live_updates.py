"""Live updates: every change of a job's status or of an alert, staged for ``GET /v1/events``.

Called wherever a status changes, inside that change's transaction, so the update commits (and
is relayed by the outbox) together with it. The caller puts the returned rows in the list it
relays after its commit, *before* any publish request it stages: the fast path publishes a list
in order, so a job's ``queued`` reaches the stream before the worker can claim it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.models import Alert, OutboxMessage, PublishJob
from herald.common.events.alerts import AlertSnapshot
from herald.common.events.changes import AlertChange, AlertChanged, JobChanged
from herald.common.events.envelope import Envelope
from herald.common.outbox import stage, stage_now


def job_change(job: PublishJob) -> JobChanged:
    """The change a job row stands for, as it is now in the session."""
    return JobChanged(
        tenant_id=job.tenant_id,
        job_id=job.id,
        asset_id=job.asset_id,
        channel_id=job.channel_id,
        platform=job.platform,
        status=str(job.status),
        attempts=job.attempts or 0,
        error_code=job.last_error_code,
        external_id=job.external_id,
        next_attempt_at=job.next_attempt_at,
    )


def change_envelope(change: JobChanged, now: datetime) -> Envelope:
    return Envelope.wrap(change, tenant_id=change.tenant_id, subject_id=change.job_id, now=now)


def stage_change(session: AsyncSession, change: JobChanged, now: datetime) -> OutboxMessage:
    """Stage a job change built by the caller (the publisher knows its claim, not the row)."""
    return stage(session, change, change_envelope(change, now))


async def stage_change_now(
    session: AsyncSession, change: JobChanged, now: datetime
) -> OutboxMessage:
    """``stage_change``, written at once (``outbox.stage_now``): the publisher's hot path."""
    return await stage_now(session, change, change_envelope(change, now))


def stage_job_change(session: AsyncSession, job: PublishJob, now: datetime) -> OutboxMessage:
    """Stage the live update of ``job``'s new status."""
    return stage_change(session, job_change(job), now)


def stage_alert_change(
    session: AsyncSession, alert: Alert, change: AlertChange, now: datetime
) -> list[OutboxMessage]:
    """Stage the live update of an alert; none for operator-wide alerts (no tenant to tell)."""
    if alert.tenant_id is None:
        return []
    event = AlertChanged(
        tenant_id=alert.tenant_id,
        change=change,
        alert=AlertSnapshot.model_validate(alert, from_attributes=True),
    )
    envelope = Envelope.wrap(event, tenant_id=alert.tenant_id, subject_id=alert.id, now=now)
    return [stage(session, event, envelope)]
