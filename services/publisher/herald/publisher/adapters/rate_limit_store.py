"""Token buckets in PostgreSQL: the row lock serialises replicas taking from one bucket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.models import RateLimitBucket
from herald.common.platforms import RateLimit
from herald.publisher.domain.rate_limits import Bucket, Take, take


async def take_token(session: AsyncSession, key: str, limit: RateLimit, now: datetime) -> Take:
    """Take a token from ``key``'s bucket inside the caller's transaction."""
    await session.execute(
        insert(RateLimitBucket)
        .values(key=key, tokens=float(limit.burst), updated_at=now)
        .on_conflict_do_nothing()
    )
    row = (
        await session.execute(
            select(RateLimitBucket.tokens, RateLimitBucket.updated_at)
            .where(RateLimitBucket.key == key)
            .with_for_update()
        )
    ).one()
    result = take(Bucket(row.tokens, row.updated_at), limit, now)
    if result.allowed:
        await session.execute(
            update(RateLimitBucket)
            .where(RateLimitBucket.key == key)
            .values(tokens=result.bucket.tokens, updated_at=result.bucket.updated_at)
        )
    return result
