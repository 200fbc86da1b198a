"""Rate-limit buckets in PostgreSQL: the row lock serialises replicas admitting one channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.models import RateLimitBucket
from herald.common.platforms import RateLimit
from herald.publisher.domain.rate_limits import Admission, Bucket, admit


async def admit_request(
    session: AsyncSession, key: str, limit: RateLimit, reserved: datetime | None
) -> tuple[Admission, datetime]:
    """Admit or reserve inside the caller's transaction; returns the decision and the time it
    was taken at.

    Time is the database's clock *after* the row lock is granted: a request that queued behind
    others must not be judged as of the moment it started waiting.
    """
    locked = (
        select(RateLimitBucket.tat, RateLimitBucket.sent_tat, func.clock_timestamp().label("now"))
        .where(RateLimitBucket.key == key)
        .with_for_update()
    )
    row = (await session.execute(locked)).first()
    if row is None:  # the channel's first request: its bucket is made (once, whoever races)
        await session.execute(
            insert(RateLimitBucket).values(key=key, tat=None).on_conflict_do_nothing()
        )
        row = (await session.execute(locked)).one()
    current = Bucket(row.tat, row.sent_tat)
    decision = admit(current, limit, row.now, reserved)
    if decision.bucket != current:
        await session.execute(
            update(RateLimitBucket)
            .where(RateLimitBucket.key == key)
            .values(tat=decision.bucket.tat, sent_tat=decision.bucket.sent_tat)
        )
    return decision, row.now
