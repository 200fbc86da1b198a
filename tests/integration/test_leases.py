"""Leases are kept alive during long calls, against real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from herald.common.db.engine import Database
from herald.common.db.models import PublishJob
from herald.publisher.adapters import job_store
from herald.publisher.adapters.job_store import Claim
from herald.publisher.domain.claims import Refusal
from herald.publisher.leases import LeaseClock, kept_alive, still_ours
from tests.integration.conftest import JobRows


async def _claim(db: Database, rows: JobRows, lease_s: float, now: datetime) -> Claim | Refusal:
    async with db.transaction() as session:
        return await job_store.claim(session, rows.job_id, "w", lease_s, now)


async def test_a_long_call_keeps_its_lease_and_its_message(db: Database, job_rows: JobRows) -> None:
    claimed = await _claim(db, job_rows, 1.0, datetime.now(UTC))
    assert isinstance(claimed, Claim)
    beats: list[float] = []

    async def heartbeat() -> None:
        beats.append(asyncio.get_running_loop().time())

    async with kept_alive(db, claimed, LeaseClock(1.0, claimed.lease_expires_at), 30.0, heartbeat):
        await asyncio.sleep(2.5)  # a call that outlives the lease twice over
        other = await _claim(db, job_rows, 1.0, datetime.now(UTC))
        assert isinstance(other, Refusal)
        assert other.reason == "leased_elsewhere"
    assert len(beats) >= 5, "an in-progress ack every third of the lease"
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
    assert job.version == claimed.version


async def test_keeping_stops_once_the_lease_was_taken_over(db: Database, job_rows: JobRows) -> None:
    now = datetime.now(UTC)
    claimed = await _claim(db, job_rows, 0.3, now - timedelta(seconds=10))
    assert isinstance(claimed, Claim)
    taken = await _claim(db, job_rows, 60, now)  # the old lease expired: another worker takes it
    assert isinstance(taken, Claim)
    beats: list[int] = []

    async def heartbeat() -> None:
        beats.append(1)

    async with kept_alive(db, claimed, LeaseClock(0.3, claimed.lease_expires_at), 30.0, heartbeat):
        await asyncio.sleep(0.8)
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
    assert job.version == taken.version
    assert job.lease_owner == "w"
    assert job.lease_expires_at is not None
    assert job.lease_expires_at >= now + timedelta(seconds=59), "the new holder's lease stands"
    assert beats == [], "no in-progress ack for a message whose job is no longer ours"


async def test_a_worker_resumed_after_its_lease_ran_out_does_not_call_the_platform(
    db: Database, job_rows: JobRows
) -> None:
    """Paused between the claim and the call for longer than the lease: the job was taken
    over meanwhile, so the check right before the call says no."""
    now = datetime.now(UTC)
    paused = await _claim(db, job_rows, 0.5, now - timedelta(seconds=10))
    assert isinstance(paused, Claim)
    clock = LeaseClock(0.5, paused.lease_expires_at)
    assert clock.expired(), "its lease ran out while it was stopped"
    taken = await _claim(db, job_rows, 60, now)
    assert isinstance(taken, Claim)
    assert not await still_ours(db, paused, clock)
    assert await still_ours(db, taken, LeaseClock(60, taken.lease_expires_at))


async def test_a_lease_that_ran_out_unnoticed_is_confirmed_before_the_call(
    db: Database, job_rows: JobRows
) -> None:
    """Nobody took the job over: the worker extends its lease and may go on."""
    slow = await _claim(db, job_rows, 0.5, datetime.now(UTC) - timedelta(seconds=10))
    assert isinstance(slow, Claim)
    clock = LeaseClock(0.5, slow.lease_expires_at)
    assert clock.expired()
    assert await still_ours(db, slow, clock)
    assert not clock.expired()
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
    assert job.lease_expires_at is not None and job.lease_expires_at > datetime.now(UTC)
