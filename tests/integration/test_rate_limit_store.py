"""Rate-limit buckets shared through PostgreSQL: concurrent admissions are serialised."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.engine import Database
from herald.common.platforms import RateLimit, channel_key
from herald.publisher.adapters import rate_limit_store
from herald.publisher.domain.rate_limits import SAFETY, Admission

LIMIT = RateLimit(per_period=10, period_s=1, burst=3)


async def admit_request(
    session: AsyncSession, key: str, limit: RateLimit, reserved: datetime | None
) -> tuple[Admission, datetime]:
    """The claim's admission: the bucket locked (made first), decided, moved."""
    locked = await rate_limit_store.lock(session, key)
    decision, moved = rate_limit_store.decide(key, locked, limit, reserved)
    await rate_limit_store.move(session, moved)
    return decision, locked.now


async def _admit(db: Database, key: str) -> tuple[Admission, datetime]:
    async with db.transaction() as session:
        return await admit_request(session, key, LIMIT, None)


async def test_concurrent_requests_share_one_bucket_and_get_distinct_slots(db: Database) -> None:
    key = channel_key(uuid.uuid4())
    results = await asyncio.gather(*(_admit(db, key) for _ in range(10)))
    allowed = [d for d, _ in results if d.allowed]
    slots = sorted(d.slot for d, _ in results if d.slot is not None)
    assert len(allowed) == 3
    assert len(slots) == 7
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(slots)]
    assert all(abs(g - 0.1 * SAFETY) < 1e-6 for g in gaps), "waiters spread one interval apart"


async def test_a_rolled_back_admission_leaves_the_bucket_as_it_was(db: Database) -> None:
    key = channel_key(uuid.uuid4())
    try:
        async with db.transaction() as session:
            for _ in range(3):
                assert (await admit_request(session, key, LIMIT, None))[0].allowed
            raise RuntimeError("the claim failed")
    except RuntimeError:
        pass
    results = [(await _admit(db, key))[0].allowed for _ in range(4)]
    assert results == [True, True, True, False]


async def test_the_clock_is_read_once_the_bucket_lock_is_granted(db: Database) -> None:
    """A request that waited for the bucket's lock is judged as of when it got it, even when
    the holder left the row as it was (PostgreSQL then does not read the row again)."""
    key = channel_key(uuid.uuid4())
    await _admit(db, key)  # the bucket exists
    async with db.transaction() as holder:
        await rate_limit_store.lock(holder, key)

        async def waiter() -> datetime:
            async with db.transaction() as session:
                return (await rate_limit_store.lock(session, key)).now

        waiting = asyncio.create_task(waiter())
        await asyncio.sleep(0.5)  # the waiter queues behind the lock
        released = (await rate_limit_store.lock(holder, key)).now
    assert await waiting >= released
