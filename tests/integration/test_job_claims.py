"""Claims and fencing against real PostgreSQL: two workers never both hold one job."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from faststream.nats import NatsBroker
from sqlalchemy import select

from herald.common.db.engine import Database
from herald.common.db.models import (
    Channel,
    OutboxMessage,
    PublishAttempt,
    PublishJob,
    RateLimitBucket,
)
from herald.common.domain.job_states import JobStatus
from herald.common.errors import RetryLater
from herald.common.ids import new_id
from herald.common.outbox import OutboxRelay
from herald.common.runtime import Runtime
from herald.common.settings import HeraldSettings
from herald.publisher.adapters import job_store
from herald.publisher.adapters.job_store import Claim
from herald.publisher.adapters.platforms.sandbox import SandboxAdapter
from herald.publisher.claims import Claims
from herald.publisher.domain.claims import Refusal
from herald.publisher.settings import PublisherSettings
from tests.integration.conftest import JobRows, add_queued_jobs, recorded_statements


async def _claim(db: Database, rows: JobRows, worker: str, now: datetime) -> Claim | Refusal:
    async with db.transaction() as session:
        return await job_store.claim(session, rows.job_id, worker, 60, now)


async def test_concurrent_claims_have_one_winner(db: Database, job_rows: JobRows) -> None:
    now = datetime.now(UTC)
    results = await asyncio.gather(*(_claim(db, job_rows, f"w{i}", now) for i in range(8)))
    claims = [r for r in results if isinstance(r, Claim)]
    refusals = [r for r in results if isinstance(r, Refusal)]
    assert len(claims) == 1
    assert {r.reason for r in refusals} == {"leased_elsewhere"}
    assert claims[0].attempt == 1 and claims[0].version == 2
    async with db.transaction() as session:
        attempts = (
            await session.scalars(
                select(PublishAttempt).where(PublishAttempt.job_id == job_rows.job_id)
            )
        ).all()
    assert [(a.number, a.outcome, a.fencing_token) for a in attempts] == [(1, None, 2)]


async def test_expired_lease_is_reclaimed_and_fences_the_old_holder(
    db: Database, job_rows: JobRows
) -> None:
    now = datetime.now(UTC)
    first = await _claim(db, job_rows, "paused-worker", now)
    assert isinstance(first, Claim)
    later = now + timedelta(seconds=61)
    second = await _claim(db, job_rows, "new-worker", later)
    assert isinstance(second, Claim)
    assert second.version == first.version + 1
    assert second.previous_unfinished, "the paused worker's attempt must be reconciled"

    async with db.transaction() as session:
        stale = await job_store.finish(
            session, first, JobStatus.SUCCEEDED, later, external_id="from-the-paused-worker"
        )
    assert stale is None
    async with db.transaction() as session:
        current = await job_store.finish(
            session, second, JobStatus.SUCCEEDED, later, external_id="from-the-new-worker"
        )
    assert current is JobStatus.SUCCEEDED
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
        attempts = (
            await session.scalars(
                select(PublishAttempt.outcome)
                .where(PublishAttempt.job_id == job_rows.job_id)
                .order_by(PublishAttempt.number)
            )
        ).all()
    assert (job.status, job.external_id) == ("succeeded", "from-the-new-worker")
    assert attempts[0] == "uncertain"


async def test_finished_job_is_not_claimed_again(db: Database, job_rows: JobRows) -> None:
    now = datetime.now(UTC)
    claimed = await _claim(db, job_rows, "w", now)
    assert isinstance(claimed, Claim)
    async with db.transaction() as session:
        assert await job_store.finish(session, claimed, JobStatus.SUCCEEDED, now, external_id="x")
    again = await _claim(db, job_rows, "w2", now + timedelta(hours=1))
    assert again == Refusal("already_finished", None)


async def test_retrying_job_is_not_claimed_before_it_is_due(
    db: Database, job_rows: JobRows
) -> None:
    now = datetime.now(UTC)
    claimed = await _claim(db, job_rows, "w", now)
    assert isinstance(claimed, Claim)
    async with db.transaction() as session:
        await job_store.finish(
            session,
            claimed,
            JobStatus.RETRYING,
            now,
            retry_at=now + timedelta(seconds=10),
            error_code="http_503",
        )
    early = await _claim(db, job_rows, "w", now + timedelta(seconds=4))
    assert isinstance(early, Refusal) and early.reason == "not_due"
    assert early.delay_s is not None and 5.9 < early.delay_s < 6.1
    on_time = await _claim(db, job_rows, "w", now + timedelta(seconds=10))
    assert isinstance(on_time, Claim) and on_time.attempt == 2


async def test_tenant_running_counts_live_leases_only(db: Database, job_rows: JobRows) -> None:
    now = datetime.now(UTC)
    async with db.transaction() as session:
        assert (await job_store.tenant_running(session, job_rows.tenant_id, now))[0] == 0
    claimed = await _claim(db, job_rows, "w", now)
    assert isinstance(claimed, Claim)
    async with db.transaction() as session:
        assert (await job_store.tenant_running(session, job_rows.tenant_id, now))[0] == 1
        later = now + timedelta(seconds=61)  # the lease ran out: its worker is gone
        assert (await job_store.tenant_running(session, job_rows.tenant_id, later))[0] == 0
        assert (await job_store.tenant_running(session, uuid.uuid4(), now))[0] == 0


def _claims(
    db: Database, settings: HeraldSettings, client: httpx.AsyncClient, tenant_cap: int = 10
) -> Claims:
    config = PublisherSettings(
        database_url=settings.database_url,
        nats_url=settings.nats_url,
        tenant_concurrency=tenant_cap,
    )
    runtime = Runtime(config, db, NatsBroker(), OutboxRelay(db, _unsent), "worker-1")
    return Claims(runtime, config, {"sandbox": SandboxAdapter("http://127.0.0.1:9", client)})


async def test_a_claim_reads_its_channel_and_asset_once(
    db: Database, job_rows: JobRows, settings: HeraldSettings
) -> None:
    """The lock's statement reads the job with its channel and asset; the admission and the
    claim use those rows. The session holds its objects only weakly: dropped, they were read
    again, two more round trips and ORM loads on every claim."""
    async with httpx.AsyncClient() as client:
        with recorded_statements(db) as statements:
            taken = await _claims(db, settings, client).take(job_rows.job_id, "normal", 1)
    assert taken is not None
    claimed, asset, channel, sealed, _ = taken
    assert (claimed.job_id, asset.id, channel.id) == (
        job_rows.job_id,
        job_rows.asset_id,
        job_rows.channel_id,
    )
    assert sealed is not None
    reads = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH JOB"))]
    assert sum("FROM job JOIN channels" in s for s in reads) == 1
    assert [s for s in reads if "FROM channels" in s or "FROM assets" in s] == []
    assert [s for s in reads if "SELECT publish_jobs.tenant_id" in s] == []  # the lock read it


async def test_a_first_claim_is_two_statements(
    db: Database, job_rows: JobRows, settings: HeraldSettings
) -> None:
    """Once its channel has a rate-limit bucket, a first claim reads (the job, its channel,
    asset and bucket, locked) and writes (the claim, its attempt, its live update and the
    bucket's move) in one statement each; it was six. What it writes is what it returns.
    (A tenant cap adds its lock and its count: the count must see every claim committed
    before the lock was granted, so it cannot share the lock's statement and snapshot.)"""
    (second,) = await add_queued_jobs(db, job_rows, 1)
    async with httpx.AsyncClient() as client:
        claims = _claims(db, settings, client, tenant_cap=0)
        assert await claims.take(job_rows.job_id, "normal", 1) is not None  # makes the bucket
        async with db.transaction() as session:
            bucket_before = await session.scalar(
                select(RateLimitBucket.tat).where(
                    RateLimitBucket.key == f"channel:{job_rows.channel_id}"
                )
            )
        with recorded_statements(db) as statements:
            taken = await claims.take(second, "normal", 1)
    assert taken is not None
    assert len(statements) == 2
    claimed, _, _, _, told = taken
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, second)
        attempt = await session.scalar(
            select(PublishAttempt).where(PublishAttempt.job_id == second)
        )
        outbox = await session.get(OutboxMessage, told.id)
        bucket_after = await session.scalar(
            select(RateLimitBucket.tat).where(
                RateLimitBucket.key == f"channel:{job_rows.channel_id}"
            )
        )
    assert (job.status, job.version, job.attempts, job.lease_owner) == (
        JobStatus.PROCESSING,
        claimed.version,
        claimed.attempt,
        "worker-1",
    )
    assert job.lease_expires_at == claimed.lease_expires_at
    assert attempt is not None
    assert (attempt.id, attempt.number, attempt.fencing_token, attempt.outcome) == (
        claimed.attempt_id,
        1,
        claimed.version,
        None,
    )
    assert outbox is not None and b'"processing"' in outbox.payload
    assert bucket_before is not None and bucket_after is not None
    assert bucket_after > bucket_before


async def _unsent(subject: str, payload: bytes, headers: dict[str, str]) -> None:
    raise ConnectionError("JetStream is not part of this test")


def _told(job_id: uuid.UUID) -> tuple[OutboxMessage, OutboxMessage]:
    return tuple(  # type: ignore[return-value]
        OutboxMessage(
            id=new_id(), subject=f"herald.test.{n}", payload=b"{}", headers={"n": str(job_id)}
        )
        for n in (1, 2)
    )


async def _outbox_of(db: Database, rows: tuple[OutboxMessage, ...]) -> list[str]:
    async with db.transaction() as session:
        found = await session.scalars(
            select(OutboxMessage.subject)
            .where(OutboxMessage.id.in_([row.id for row in rows]))
            .order_by(OutboxMessage.id)
        )
        return list(found.all())


async def test_a_success_is_recorded_in_one_statement(db: Database, job_rows: JobRows) -> None:
    now = datetime.now(UTC)
    claimed = await _claim(db, job_rows, "w", now)
    assert isinstance(claimed, Claim)
    told = _told(job_rows.job_id)
    with recorded_statements(db) as statements:
        async with db.autocommit() as connection:
            assert await job_store.record_success(connection, claimed, now, 12.5, "post-1", told)
    assert len(statements) == 1
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
        attempt = await session.get_one(PublishAttempt, claimed.attempt_id)
    assert (job.status, job.external_id, job.lease_owner, job.lease_expires_at) == (
        "succeeded",
        "post-1",
        None,
        None,
    )
    assert job.finished_at == attempt.finished_at == now
    assert (attempt.outcome, attempt.external_id, attempt.duration_ms) == (
        "succeeded",
        "post-1",
        12.5,
    )
    assert await _outbox_of(db, told) == ["herald.test.1", "herald.test.2"]


async def test_a_fenced_out_success_closes_its_attempt_and_tells_nothing(
    db: Database, job_rows: JobRows
) -> None:
    """The worker paused past its lease and another took the job over: its success closes its
    own attempt, leaves the new holder's job alone and writes no event."""
    now = datetime.now(UTC)
    paused = await _claim(db, job_rows, "paused-worker", now)
    assert isinstance(paused, Claim)
    holder = await _claim(db, job_rows, "new-worker", now + timedelta(seconds=61))
    assert isinstance(holder, Claim)
    told = _told(job_rows.job_id)
    async with db.autocommit() as connection:
        ours = await job_store.record_success(connection, paused, now, 9.0, "post-late", told)
    assert not ours
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
        attempt = await session.get_one(PublishAttempt, paused.attempt_id)
    assert (job.status, job.lease_owner, job.external_id) == ("processing", "new-worker", None)
    assert (attempt.outcome, attempt.external_id, attempt.error_code) == (
        "succeeded",
        "post-late",
        None,  # the new holder's guess (worker_lost) gave way to what happened
    )
    assert await _outbox_of(db, told) == []


async def test_a_success_after_a_cancel_mid_call_stands(db: Database, job_rows: JobRows) -> None:
    """The post went out: a cancel that arrived during the call cannot take it back."""
    now = datetime.now(UTC)
    claimed = await _claim(db, job_rows, "w", now)
    assert isinstance(claimed, Claim)
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
        job.cancel_requested_at = now
    told = _told(job_rows.job_id)
    async with db.autocommit() as connection:
        assert await job_store.record_success(connection, claimed, now, 3.0, "post-2", told)
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
    assert (job.status, job.external_id) == ("succeeded", "post-2")
    assert await _outbox_of(db, told) == ["herald.test.1", "herald.test.2"]


@pytest.mark.parametrize("tenant_cap", [0, 10])
async def test_first_claims_racing_on_a_new_channel_admit_one_and_never_deadlock(
    db: Database, job_rows: JobRows, settings: HeraldSettings, tenant_cap: int
) -> None:
    """Eight claims of one new channel's jobs at once (its bucket made by the first), with and
    without the tenant cap: locks are taken job, bucket, tenant in every path, so none
    deadlocks; the channel's limit (one call a minute) admits exactly one."""
    async with db.transaction() as session:
        channel = await session.get_one(Channel, job_rows.channel_id)
        channel.config = {
            **channel.config,
            "rate_limit": {"per_period": 1, "period_s": 60, "burst": 1},
        }
    jobs = [job_rows.job_id, *await add_queued_jobs(db, job_rows, 7)]
    async with httpx.AsyncClient() as client:
        claims = _claims(db, settings, client, tenant_cap=tenant_cap)
        outcomes = await asyncio.gather(
            *(claims.take(job, "normal", 1) for job in jobs), return_exceptions=True
        )
    taken = [o for o in outcomes if isinstance(o, tuple)]
    waiting = [o for o in outcomes if isinstance(o, RetryLater)]
    assert len(taken) == 1, outcomes
    assert len(waiting) == 7 and all(w.reason == "rate_limited" for w in waiting), outcomes
