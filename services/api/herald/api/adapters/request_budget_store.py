"""API keys' request budgets in PostgreSQL (``rate_limit_buckets``, key ``api-key:<id>``).

Every replica spends from the same row, in one statement: an upsert whose conflict branch
advances the TAT only when ``domain.request_budget.admit`` would admit the request. The row lock
the upsert takes serialises replicas; the clock is the database's, so replicas' clocks never
disagree about a bucket. A refused request writes nothing, and reads the TAT back for its
Retry-After (a second statement, on the refusal path only).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import DateTime, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.domain.request_budget import Budget, Spend, admit, admitted
from herald.common.db.models import RateLimitBucket

TICK = timedelta(microseconds=1)


def bucket_key(api_key_id: uuid.UUID) -> str:
    return f"api-key:{api_key_id}"


async def spend(session: AsyncSession, key: str, budget: Budget) -> Spend:
    """Take one request from the budget of ``key``, inside the caller's transaction."""
    # The clock is read once the row lock is granted (clock_timestamp, not the transaction's
    # start): a request that queued behind another must not be judged as of before it, or a
    # burst spread over replicas would lose part of its budget to the queueing.
    now = func.clock_timestamp(type_=DateTime(timezone=True))
    start = func.greatest(RateLimitBucket.tat, now, type_=DateTime(timezone=True))
    statement = (
        insert(RateLimitBucket)
        .values(key=key, tat=now + budget.interval)
        .on_conflict_do_update(
            index_elements=[RateLimitBucket.key],
            set_={"tat": start + budget.interval},
            where=start + budget.interval <= now + budget.capacity,  # what ``admit`` allows
        )
        .returning(RateLimitBucket.tat, now.label("now"))
    )
    row = (await session.execute(statement)).one_or_none()
    if row is not None:
        return admitted(row.tat, budget, row.now)
    current = (
        await session.execute(
            select(RateLimitBucket.tat, now.label("now")).where(RateLimitBucket.key == key)
        )
    ).one()
    refused = admit(current.tat, budget, current.now)
    if refused.allowed:  # a token came back in the microseconds between the two statements
        return replace(refused, allowed=False, tat=current.tat, remaining=0, retry_after=TICK)
    return refused
