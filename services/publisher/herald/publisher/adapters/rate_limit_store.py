"""Rate-limit buckets in PostgreSQL: the row lock serialises replicas admitting one channel.

A claim reads its channel's bucket, locked, in the statement that locks its job
(``locked_bucket``), and writes the bucket's move in the statement that claims it
(``MOVED``, ``move`` when the claim is not made); ``lock`` makes a channel's first bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    bindparam,
    cast,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.selectable import LateralFromClause

from herald.common.db.models import RateLimitBucket
from herald.common.platforms import CHANNEL_KEY, RateLimit
from herald.publisher.domain.rate_limits import Admission, Bucket, admit

# built once, with bind parameters (building costs more CPU than running them; job_store.py)
_BUCKETS = typed(Table, RateLimitBucket.__table__)  # Core: no session to synchronize


_ROW = (
    select(_BUCKETS.c.tat, _BUCKETS.c.sent_tat)
    .where(_BUCKETS.c.key == bindparam("bucket"))
    .with_for_update()
    .subquery("bucket")
)
# the clock in the outer select list: computed once the row lock is granted (inside the locked
# select it would be read before a wait for the lock)
_LOCKED = select(_ROW.c.tat, _ROW.c.sent_tat, func.clock_timestamp().label("now"))
_MADE = insert(_BUCKETS).values(key=bindparam("bucket"), tat=None).on_conflict_do_nothing()
MOVED = (
    update(_BUCKETS)
    .where(_BUCKETS.c.key == bindparam("bucket"))
    .values(tat=bindparam("to_tat"), sent_tat=bindparam("to_sent_tat"))
)
"""The bucket's new state (``moved`` fills its parameters)."""


@dataclass(frozen=True)
class Locked:
    """A bucket as read under its row lock, and the database's clock when it was read."""

    tat: datetime | None
    sent_tat: datetime | None
    now: datetime


def locked_bucket(channel_id: ColumnElement[Any] | InstrumentedAttribute[Any]) -> LateralFromClause:
    """The channel's bucket, locked, for a statement that reads the channel's job (no row: the
    channel has never been admitted; ``lock`` makes its bucket). Its ``found`` column says a
    row came; the statement reads the clock in its own select list, which is computed after
    this lock is granted (a clock inside the locked select would be read before it)."""
    return (
        select(_BUCKETS.c.tat, _BUCKETS.c.sent_tat, literal(True).label("found"))
        .where(_BUCKETS.c.key == literal(CHANNEL_KEY) + cast(channel_id, String))
        .with_for_update()
        .lateral("bucket")
    )


def decide(
    key: str, locked: Locked, limit: RateLimit, reserved: datetime | None
) -> tuple[Admission, dict[str, object] | None]:
    """The admission, and ``MOVED``'s parameters when the bucket changes (pure)."""
    current = Bucket(locked.tat, locked.sent_tat)
    decision = admit(current, limit, locked.now, reserved)
    if decision.bucket == current:
        return decision, None
    return decision, {
        "bucket": key,
        "to_tat": decision.bucket.tat,
        "to_sent_tat": decision.bucket.sent_tat,
    }


async def lock(session: AsyncSession, key: str) -> Locked:
    """Read the bucket under its row lock, made first if it is the key's first request.

    Time is the database's clock once the row lock is granted: a request that queued behind
    others is not judged as of the moment it started waiting. Callers that wait on other locks
    afterwards pass a later clock to ``decide`` (the claim does: ``Claims._tenant_room``).
    """
    row = (await session.execute(_LOCKED, {"bucket": key})).first()
    if row is None:  # the key's first request: its bucket is made (once, whoever races)
        await session.execute(_MADE, {"bucket": key})
        row = (await session.execute(_LOCKED, {"bucket": key})).one()
    return Locked(row.tat, row.sent_tat, row.now)


async def move(session: AsyncSession, moved: dict[str, object] | None) -> None:
    """Store the bucket's new state (``decide``'s parameters; None: unchanged)."""
    if moved is not None:
        await session.execute(MOVED, moved)
