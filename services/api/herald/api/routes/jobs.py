"""Publish jobs: list them (filters, newest first, keyset pages), read one with its attempts
(the audit trail), cancel it, retry it by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query

from herald.api.adapters.repositories import JobFilter, JobRepository
from herald.api.auth import Principal, Role, State, Who, require
from herald.api.schemas import (
    AttemptOut,
    JobBriefOut,
    JobOut,
    JobPage,
    RedriveIn,
    RedriveOut,
    UtcDatetime,
)
from herald.api.service_layer import audit, job_control
from herald.api.service_layer.errors import NotFound
from herald.common.db.models import PublishJob
from herald.common.domain.job_states import JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
log = structlog.get_logger(__name__)


@router.get("")
async def list_jobs(
    who: Who,
    state: State,
    status: JobStatus | None = None,
    platform: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z0-9_]+$")] = None,
    channel_id: uuid.UUID | None = None,
    asset_id: uuid.UUID | None = None,
    created_after: Annotated[UtcDatetime | None, Query(description="inclusive")] = None,
    created_before: Annotated[UtcDatetime | None, Query(description="exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: uuid.UUID | None = None,
) -> JobPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page (a cursor that
    is not one of your jobs gives an empty page). Times carry their zone."""
    where = JobFilter(status, platform, channel_id, asset_id, created_after, created_before)
    async with state.db.transaction(who.tenant_id) as session:
        rows, next_cursor = await JobRepository(session, who.tenant_id).page(where, limit, cursor)
        items = [JobBriefOut.model_validate(_brief(job)) for job in rows]
    return JobPage(items=items, next_cursor=next_cursor)


@router.post("/redrive", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def redrive_jobs(body: RedriveIn, who: Who, state: State) -> RedriveOut:
    """Send this tenant's failed (or cancelled, or missed) jobs back to the queue, by filter."""
    selection = job_control.RedriveFilter(
        body.status, body.platform, who.tenant_id, body.channel_id, body.limit
    )
    async with state.db.transaction(who.tenant_id) as session:
        batch, staged = await job_control.redrive_batch(
            session, selection, uuid.UUID(int=0), body.limit, datetime.now(UTC)
        )
        audit.record(
            session,
            who.tenant_id,
            who,
            "jobs.redriven",
            "job",
            None,
            status=body.status,
            requeued=len(batch),
        )
    await state.relay.send(staged)
    log.info("jobs.redrive", requeued=len(batch), status=body.status)
    return RedriveOut(requeued=len(batch), job_ids=[job.id for job in batch])


@router.get("/{job_id:uuid}")
async def get_job(job_id: uuid.UUID, who: Who, state: State) -> JobOut:
    return await _read(state, who, job_id)


@router.post("/{job_id:uuid}/cancel", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def cancel_job(job_id: uuid.UUID, who: Who, state: State) -> JobOut:
    """Cancel; a job mid-call keeps the call's true outcome and is not retried after it."""
    async with state.db.transaction(who.tenant_id) as session:
        job = await job_control.locked_or_missing(session, job_id, who.tenant_id)
        outcome = job_control.cancel(session, job, datetime.now(UTC))
        audit.record(session, who.tenant_id, who, "job.cancelled", "job", job_id)
    await state.relay.send(outcome.staged)
    log.info("job.cancel", job_id=str(job_id), status=outcome.job.status)
    return await _read(state, who, job_id)


@router.post("/{job_id:uuid}/retry", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def retry_job(job_id: uuid.UUID, who: Who, state: State) -> JobOut:
    """Send a failed or cancelled job back to the queue with a fresh attempt budget."""
    async with state.db.transaction(who.tenant_id) as session:
        job = await job_control.locked_or_missing(session, job_id, who.tenant_id)
        outcome = job_control.retry(session, job, datetime.now(UTC))
        audit.record(session, who.tenant_id, who, "job.retried", "job", job_id)
    await state.relay.send(outcome.staged)
    log.info("job.retry", job_id=str(job_id))
    return await _read(state, who, job_id)


async def _read(state: State, who: Principal, job_id: uuid.UUID) -> JobOut:
    async with state.db.transaction(who.tenant_id) as session:
        jobs = JobRepository(session, who.tenant_id)
        job = await jobs.get(job_id)
        if job is None:
            raise NotFound("job")
        attempts = await jobs.attempts(job_id)
    return JobOut.model_validate(
        {
            **_brief(job),
            "attempts": [AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
        }
    )


def _brief(job: PublishJob) -> dict[str, Any]:
    fields = {
        name: getattr(job, name) for name in JobBriefOut.model_fields if name != "cancel_requested"
    }
    return {**fields, "cancel_requested": job.cancel_requested_at is not None}
