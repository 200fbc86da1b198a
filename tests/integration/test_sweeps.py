"""Recovery sweeps against real PostgreSQL: due and stranded jobs are found once, by one sweeper."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from herald.common.db.engine import Database
from herald.common.db.models import PublishJob
from herald.common.domain.job_states import JobStatus
from herald.common.events import Envelope, JobRecovered, PublishFailed
from herald.common.outbox import OutboxRelay
from herald.recovery.adapters import job_sweeps
from herald.recovery.adapters.job_sweeps import Stranded
from herald.recovery.domain.sweep_policy import SweepPolicy
from herald.recovery.sweeps import sweep_jobs
from tests.integration.conftest import JobRows, one_read, recorded_statements

POLICY = SweepPolicy(queued_stale_s=30, retry_overdue_s=30, lease_grace_s=5)


async def _set(db: Database, rows: JobRows, **values: Any) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(PublishJob).where(PublishJob.id == rows.job_id).values(**values)
        )


async def _sweep(db: Database, now: datetime) -> list[Stranded]:
    async with db.transaction() as session:
        cutoffs = POLICY.cutoffs(now)
        found = await job_sweeps.dispatch_due(session, cutoffs, now, 1000)
        return found + await job_sweeps.request_stranded(session, cutoffs, now, 1000)


def _mine(found: list[Stranded], rows: JobRows) -> list[str]:
    return [s.reason for s in found if s.job_id == rows.job_id]


async def test_scheduled_job_is_dispatched_when_due_and_only_then(
    db: Database, job_rows: JobRows
) -> None:
    now = datetime.now(UTC)
    await _set(db, job_rows, status=JobStatus.SCHEDULED, scheduled_for=now + timedelta(minutes=5))
    assert _mine(await _sweep(db, now), job_rows) == []
    later = now + timedelta(minutes=5)
    assert _mine(await _sweep(db, later), job_rows) == ["scheduled_due"]
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
    assert (job.status, job.queued_at, job.requested_at) == ("queued", later, later)
    assert _mine(await _sweep(db, later + timedelta(seconds=1)), job_rows) == []


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"status": JobStatus.QUEUED}, "queued_stale"),
        ({"status": JobStatus.RETRYING, "next_attempt_at": -31}, "retry_overdue"),
        ({"status": JobStatus.PROCESSING, "lease_expires_at": -6}, "lease_expired"),
        ({"status": JobStatus.UNCERTAIN}, "uncertain"),
    ],
)
async def test_stranded_job_is_requested_again_once(
    db: Database, job_rows: JobRows, values: dict[str, Any], reason: str
) -> None:
    now = datetime.now(UTC)
    resolved = {
        k: now + timedelta(seconds=v) if isinstance(v, int) else v for k, v in values.items()
    }
    await _set(db, job_rows, requested_at=now - timedelta(seconds=31), **resolved)
    assert _mine(await _sweep(db, now), job_rows) == [reason]
    assert _mine(await _sweep(db, now + timedelta(seconds=1)), job_rows) == [], (
        "a fresh request is given time to be served"
    )


@pytest.mark.parametrize(
    "values",
    [
        {"status": JobStatus.QUEUED, "requested_at": -10},
        {"status": JobStatus.RETRYING, "next_attempt_at": -10, "requested_at": -60},
        {"status": JobStatus.PROCESSING, "lease_expires_at": 30, "requested_at": -60},
        {"status": JobStatus.SUCCEEDED, "requested_at": -600},
        {"status": JobStatus.FAILED, "requested_at": -600},
        {"status": JobStatus.WAITING_AUTH, "requested_at": -600},
    ],
)
async def test_healthy_and_finished_jobs_are_left_alone(
    db: Database, job_rows: JobRows, values: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    await _set(
        db,
        job_rows,
        **{k: now + timedelta(seconds=v) if isinstance(v, int) else v for k, v in values.items()},
    )
    assert _mine(await _sweep(db, now), job_rows) == []


async def test_concurrent_sweepers_take_disjoint_jobs(db: Database, job_rows: JobRows) -> None:
    now = datetime.now(UTC)
    await _set(db, job_rows, status=JobStatus.QUEUED, requested_at=now - timedelta(minutes=5))
    results = await asyncio.gather(*(_sweep(db, now) for _ in range(4)))
    assert sum(len(_mine(found, job_rows)) for found in results) == 1


@pytest.mark.parametrize(
    ("late_limit_s", "late_by_s", "reason", "status"),
    [
        (None, 3600, "scheduled_due", JobStatus.QUEUED),  # no policy: publish late
        (600, 599, "scheduled_due", JobStatus.QUEUED),
        (600, 601, "missed", JobStatus.MISSED),
    ],
)
async def test_missed_slot_policy(
    db: Database,
    job_rows: JobRows,
    late_limit_s: int | None,
    late_by_s: int,
    reason: str,
    status: JobStatus,
) -> None:
    now = datetime.now(UTC)
    await _set(
        db,
        job_rows,
        status=JobStatus.SCHEDULED,
        publish_late_within_s=late_limit_s,
        scheduled_for=now - timedelta(seconds=late_by_s),
    )
    assert _mine(await _sweep(db, now), job_rows) == [reason]
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
    assert job.status == status


async def test_a_missed_slot_is_reported_as_a_final_failure(
    db: Database, job_rows: JobRows
) -> None:
    sent: list[tuple[str, bytes]] = []

    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        sent.append((subject, payload))

    now = datetime.now(UTC)
    await _set(
        db,
        job_rows,
        status=JobStatus.SCHEDULED,
        publish_late_within_s=60,
        scheduled_for=now - timedelta(hours=1),
    )
    await sweep_jobs(db, OutboxRelay(db, publish), POLICY)
    mine = [Envelope.model_validate_json(p) for s, p in sent if s == PublishFailed.subject]
    failures = [e.payload(PublishFailed) for e in mine if e.subject_id == job_rows.job_id]
    assert len(failures) == 1
    assert (failures[0].error_code, failures[0].final) == ("missed_slot", True)


async def test_a_recovered_job_is_announced_and_requested(db: Database, job_rows: JobRows) -> None:
    sent: list[tuple[str, bytes]] = []

    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        sent.append((subject, payload))

    now = datetime.now(UTC)
    await _set(db, job_rows, status=JobStatus.QUEUED, requested_at=now - timedelta(minutes=5))
    await sweep_jobs(db, OutboxRelay(db, publish), POLICY)
    mine = [(s, Envelope.model_validate_json(p)) for s, p in sent]
    mine = [(s, e) for s, e in mine if e.subject_id == job_rows.job_id]
    subjects = sorted(s for s, _ in mine)
    assert subjects == ["herald.jobs.recovered", "herald.publish.requested.normal"]
    [notice] = [e.payload(JobRecovered) for s, e in mine if s == JobRecovered.subject]
    assert notice.reason == "queued_stale"


async def test_an_idle_sweep_reads_once_and_opens_no_transaction(
    db: Database, job_rows: JobRows
) -> None:
    """Nothing due or stranded: the sweep is one read. A job stranded since is found by the
    next sweep."""

    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        return None

    relay = OutboxRelay(db, publish)
    while await sweep_jobs(db, relay, POLICY):  # whatever other tests left
        pass
    with recorded_statements(db) as statements:
        assert await sweep_jobs(db, relay, POLICY) == []
    assert one_read(statements), statements
    await _set(db, job_rows, requested_at=datetime.now(UTC) - timedelta(minutes=5))
    assert _mine(await sweep_jobs(db, relay, POLICY), job_rows) == ["queued_stale"]
