"""Publish jobs: read one with its attempts (the audit trail), cancel it, retry it by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter

from herald.api import job_control
from herald.api.adapters.repositories import JobRepository
from herald.api.auth import Principal, Role, State, Who, require
from herald.api.problems import Problem, not_found
from herald.api.schemas import AttemptOut, JobOut

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
log = structlog.get_logger(__name__)

COMMANDS = {"cancel": job_control.cancel, "retry": job_control.retry}
REFUSALS = {
    "cancel": ("job_not_cancellable", "Job cannot be cancelled"),
    "retry": ("job_not_retryable", "Job cannot be retried"),
}


@router.get("/{job_id}")
async def get_job(job_id: uuid.UUID, who: Who, state: State) -> JobOut:
    return await _read(state, who, job_id)


@router.post("/{job_id}/cancel", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def cancel_job(job_id: uuid.UUID, who: Who, state: State) -> JobOut:
    """Cancel; a job mid-call keeps the call's true outcome and is not retried after it."""
    return await _command(state, who, job_id, "cancel")


@router.post("/{job_id}/retry", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def retry_job(job_id: uuid.UUID, who: Who, state: State) -> JobOut:
    """Send a failed or cancelled job back to the queue with a fresh attempt budget."""
    return await _command(state, who, job_id, "retry")


async def _command(state: State, who: Principal, job_id: uuid.UUID, name: str) -> JobOut:
    async with state.db.transaction() as session:
        job = await job_control.lock_job(session, job_id, who.tenant_id)
        if job is None:
            raise not_found("job")
        try:
            outcome = COMMANDS[name](session, job, datetime.now(UTC))
        except job_control.JobCommandRefused as refused:
            code, title = REFUSALS[name]
            raise Problem(409, code, title, str(refused), job_status=refused.status) from None
    await state.relay.send(outcome.staged)
    log.info(f"job.{name}", job_id=str(job_id), status=outcome.job.status)
    return await _read(state, who, job_id)


async def _read(state: State, who: Principal, job_id: uuid.UUID) -> JobOut:
    async with state.db.transaction() as session:
        jobs = JobRepository(session, who.tenant_id)
        job = await jobs.get(job_id)
        if job is None:
            raise not_found("job")
        attempts = [
            AttemptOut.model_validate(a, from_attributes=True) for a in await jobs.attempts(job_id)
        ]
    fields = {
        name: getattr(job, name)
        for name in JobOut.model_fields
        if name not in ("attempts", "cancel_requested")
    }
    return JobOut.model_validate(
        {**fields, "attempts": attempts, "cancel_requested": job.cancel_requested_at is not None}
    )
