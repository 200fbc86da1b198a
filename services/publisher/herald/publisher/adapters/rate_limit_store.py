"""Rate-limit buckets in PostgreSQL: the row lock serialises replicas admitting one channel."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.models import RateLimitBucket
from herald.common.platforms import RateLimit
from herald.publisher.domain.rate_limits import Admission, Bucket, admit

# built once, with bind parameters (building costs more CPU than running them; job_store.py)
_BUCKETS = cast(Table, RateLimitBucket.__table__)  # Core: no session to synchronize
_LOCKED = (
    select(_BUCKETS.c.tat, _BUCKETS.c.sent_tat, func.clock_timestamp().label("now"))
    .where(_BUCKETS.c.key == bindparam("bucket"))
    .with_for_update()
)
_MADE = insert(_BUCKETS).values(key=bindparam("bucket"), tat=None).on_conflict_do_nothing()
_MOVED = (
    update(_BUCKETS)
    .where(_BUCKETS.c.key == bindparam("bucket"))
    .values(tat=bindparam("to_tat"), sent_tat=bindparam("to_sent_tat"))
)


async def admit_request(
    session: AsyncSession, key: str, limit: RateLimit, reserved: datetime | None
) -> tuple[Admission, datetime]:
    """Admit or reserve inside the caller's transaction; returns the decision and the time it
    was taken at.

    Time is the database's clock *after* the row lock is granted: a request that queued behind
    others must not be judged as of the moment it started waiting.
    """
    row = (await session.execute(_LOCKED, {"bucket": key})).first()
    if row is None:  # the channel's first request: its bucket is made (once, whoever races)
        await session.execute(_MADE, {"bucket": key})
        row = (await session.execute(_LOCKED, {"bucket": key})).one()
    current = Bucket(row.tat, row.sent_tat)
    decision = admit(current, limit, row.now, reserved)
    if decision.bucket != current:
        moved = {"to_tat": decision.bucket.tat, "to_sent_tat": decision.bucket.sent_tat}
        await session.execute(_MOVED, {"bucket": key, **moved})
    return decision, row.now
