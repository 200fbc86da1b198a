"""Publish jobs: read one with its attempts (the audit trail), cancel it, retry it by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter

from herald.api.adapters.repositories import JobRepository
from herald.api.auth import Principal, Role, State, Who, require
from herald.api.schemas import AttemptOut, JobOut, RedriveIn, RedriveOut
from herald.api.service_layer import job_control
from herald.api.service_layer.errors import NotFound

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
log = structlog.get_logger(__name__)


@router.post("/redrive", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def redrive_jobs(body: RedriveIn, who: Who, state: State) -> RedriveOut:
    """Send this tenant's failed (or cancelled, or missed) jobs back to the queue, by filter."""
    selection = job_control.RedriveFilter(
        body.status, body.platform, who.tenant_id, body.channel_id, body.limit
    )
    async with state.db.transaction() as session:
        batch, staged = await job_control.redrive_batch(
            session, selection, uuid.UUID(int=0), body.limit, datetime.now(UTC)
        )
    await state.relay.send(staged)
    log.info("jobs.redrive", requeued=len(batch), status=body.status)
    return RedriveOut(requeued=len(batch), job_ids=[job.id for job in batch])


@router.get("/{job_id}")
async def get_job(job_id: uuid.UUID, who: Who, state: State) -> JobOut:
    return await _read(state, who, job_id)


@router.post("/{job_id}/cancel", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def cancel_job(job_id: uuid.UUID, who: Who, state: State) -> JobOut:
    """Cancel; a job mid-call keeps the call's true outcome and is not retried after it."""
    async with state.db.transaction() as session:
        job = await job_control.locked_or_missing(session, job_id, who.tenant_id)
        outcome = job_control.cancel(session, job, datetime.now(UTC))
    await state.relay.send(outcome.staged)
    log.info("job.cancel", job_id=str(job_id), status=outcome.job.status)
    return await _read(state, who, job_id)


@router.post("/{job_id}/retry", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def retry_job(job_id: uuid.UUID, who: Who, state: State) -> JobOut:
    """Send a failed or cancelled job back to the queue with a fresh attempt budget."""
    async with state.db.transaction() as session:
        job = await job_control.locked_or_missing(session, job_id, who.tenant_id)
        outcome = job_control.retry(session, job, datetime.now(UTC))
    await state.relay.send(outcome.staged)
    log.info("job.retry", job_id=str(job_id))
    return await _read(state, who, job_id)


async def _read(state: State, who: Principal, job_id: uuid.UUID) -> JobOut:
    async with state.db.transaction() as session:
        jobs = JobRepository(session, who.tenant_id)
        job = await jobs.get(job_id)
        if job is None:
            raise NotFound("job")
        attempts = await jobs.attempts(job_id)
    fields = {
        name: getattr(job, name)
        for name in JobOut.model_fields
        if name not in ("attempts", "cancel_requested")
    }
    return JobOut.model_validate(
        {
            **fields,
            "attempts": [AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
            "cancel_requested": job.cancel_requested_at is not None,
        }
    )
