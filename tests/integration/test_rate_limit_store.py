"""Token buckets shared through PostgreSQL: concurrent takers never exceed the burst."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from herald.common.db.engine import Database
from herald.common.platforms import RateLimit
from herald.publisher.adapters.rate_limit_store import take_token
from herald.publisher.domain.rate_limits import Take

LIMIT = RateLimit(per_period=1, period_s=10, burst=3)


async def _take(db: Database, key: str, now: datetime) -> Take:
    async with db.transaction() as session:
        return await take_token(session, key, LIMIT, now)


async def test_concurrent_takers_share_one_bucket(db: Database) -> None:
    key, now = f"channel:{uuid.uuid4()}", datetime.now(UTC)
    results = await asyncio.gather(*(_take(db, key, now) for _ in range(10)))
    assert sum(r.allowed for r in results) == 3
    later = await _take(db, key, now + timedelta(seconds=10))
    assert later.allowed, "one token accrued in one period"
    assert not (await _take(db, key, now + timedelta(seconds=10))).allowed


async def test_a_rolled_back_take_leaves_the_token(db: Database) -> None:
    key, now = f"channel:{uuid.uuid4()}", datetime.now(UTC)
    try:
        async with db.transaction() as session:
            for _ in range(3):
                assert (await take_token(session, key, LIMIT, now)).allowed
            raise RuntimeError("the claim failed")
    except RuntimeError:
        pass
    assert [(await _take(db, key, now)).allowed for _ in range(4)] == [True, True, True, False]
