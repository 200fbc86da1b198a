"""Cancel and manual retry against real PostgreSQL, including a cancel that lands mid-call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from herald.api.service_layer import job_control
from herald.common.db.engine import Database
from herald.common.db.models import OutboxMessage, PublishJob
from herald.common.domain.job_states import JobStatus
from herald.publisher.adapters import job_store
from herald.publisher.adapters.job_store import Claim
from tests.integration.conftest import JobRows


async def _claim(db: Database, rows: JobRows) -> Claim:
    async with db.transaction() as session:
        claimed = await job_store.claim(session, rows.job_id, "w", 60, datetime.now(UTC))
    assert isinstance(claimed, Claim)
    return claimed


async def _command(db: Database, rows: JobRows, name: str) -> job_control.Outcome:
    async with db.transaction() as session:
        job = await job_control.lock_job(session, rows.job_id, rows.tenant_id)
        assert job is not None
        command = job_control.cancel if name == "cancel" else job_control.retry
        return command(session, job, datetime.now(UTC))


async def _job(db: Database, rows: JobRows) -> PublishJob:
    async with db.transaction() as session:
        return await session.get_one(PublishJob, rows.job_id)


async def test_cancel_of_a_queued_job_fences_out_a_late_claim_holder(
    db: Database, job_rows: JobRows
) -> None:
    outcome = await _command(db, job_rows, "cancel")
    assert outcome.job.status == JobStatus.CANCELLED
    async with db.transaction() as session:
        subjects = (
            await session.scalars(
                select(OutboxMessage.subject).where(
                    OutboxMessage.id.in_([r.id for r in outcome.staged])
                )
            )
        ).all()
    assert sorted(subjects) == [
        f"herald.changes.{job_rows.tenant_id}.jobs",
        "herald.jobs.cancelled",
    ]
    async with db.transaction() as session:
        refused = await job_store.claim(session, job_rows.job_id, "w", 60, datetime.now(UTC))
    assert not isinstance(refused, Claim)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (JobStatus.SUCCEEDED, JobStatus.SUCCEEDED),  # the post went out: that is the truth
        (JobStatus.RETRYING, JobStatus.CANCELLED),  # no retry after a cancel
        (JobStatus.FAILED, JobStatus.CANCELLED),
        (JobStatus.WAITING_AUTH, JobStatus.CANCELLED),
    ],
)
async def test_cancel_mid_call_keeps_the_calls_true_outcome(
    db: Database, job_rows: JobRows, outcome: JobStatus, expected: JobStatus
) -> None:
    claimed = await _claim(db, job_rows)
    cancelled = await _command(db, job_rows, "cancel")
    assert cancelled.job.status == JobStatus.PROCESSING
    assert cancelled.job.cancel_requested_at is not None
    async with db.transaction() as session:
        status = await job_store.finish(
            session,
            claimed,
            outcome,
            datetime.now(UTC),
            external_id="post_1" if expected == "succeeded" else None,
        )
    assert status is expected
    assert (await _job(db, job_rows)).status == expected


async def test_retry_gives_a_failed_job_a_fresh_budget_and_a_request(
    db: Database, job_rows: JobRows
) -> None:
    for _ in range(2):
        claimed = await _claim(db, job_rows)
        async with db.transaction() as session:
            await job_store.finish(session, claimed, JobStatus.FAILED, datetime.now(UTC))
        outcome = await _command(db, job_rows, "retry")
        assert outcome.job.status == JobStatus.QUEUED
    again = await _claim(db, job_rows)
    assert (again.attempt, again.attempt_base, again.attempt_in_run) == (3, 2, 1)
    assert len(outcome.staged) == 3  # with its live update (herald.changes.<tenant>.jobs)
    async with db.transaction() as session:
        subjects = sorted(
            (
                await session.scalars(
                    select(OutboxMessage.subject).where(
                        OutboxMessage.id.in_([r.id for r in outcome.staged])
                    )
                )
            ).all()
        )
    assert subjects == [
        f"herald.changes.{job_rows.tenant_id}.jobs",
        "herald.jobs.retry_requested",
        "herald.publish.requested.normal",
    ]


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.SUCCEEDED])
async def test_only_failed_or_cancelled_jobs_are_retried(
    db: Database, job_rows: JobRows, status: JobStatus
) -> None:
    if status is not JobStatus.QUEUED:
        claimed = await _claim(db, job_rows)
        if status is JobStatus.SUCCEEDED:
            async with db.transaction() as session:
                await job_store.finish(session, claimed, status, datetime.now(UTC))
    with pytest.raises(job_control.JobCommandRefused):
        await _command(db, job_rows, "retry")


async def test_a_succeeded_job_cannot_be_cancelled(db: Database, job_rows: JobRows) -> None:
    claimed = await _claim(db, job_rows)
    async with db.transaction() as session:
        await job_store.finish(session, claimed, JobStatus.SUCCEEDED, datetime.now(UTC))
    with pytest.raises(job_control.JobCommandRefused, match="succeeded"):
        await _command(db, job_rows, "cancel")
