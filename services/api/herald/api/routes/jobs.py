"""Publish jobs: read one with its attempts (the audit trail)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from herald.api.adapters.repositories import JobRepository
from herald.api.auth import State, Who
from herald.api.problems import not_found
from herald.api.schemas import AttemptOut, JobOut

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}")
async def get_job(job_id: uuid.UUID, who: Who, state: State) -> JobOut:
    async with state.db.transaction() as session:
        jobs = JobRepository(session, who.tenant_id)
        job = await jobs.get(job_id)
        if job is None:
            raise not_found("job")
        attempts = [
            AttemptOut.model_validate(a, from_attributes=True) for a in await jobs.attempts(job_id)
        ]
    fields = {name: getattr(job, name) for name in JobOut.model_fields if name != "attempts"}
    return JobOut.model_validate({**fields, "attempts": attempts})
