"""Distributed locks for exclusive work (a platform account's sync, say): a row per name with
an owner, an expiry and a fencing token, decided by PostgreSQL's clock.

A holder renews before ``expires_at``; a holder that died or stalled loses the lock when it
expires, to the next ``acquire``, whose token is higher, so the stale holder's writes can be
refused (compare tokens). The recovery service deletes rows expired for a while, so dead
names do not pile up. Transaction-scoped work uses ``pg_try_advisory_xact_lock`` instead,
which cannot go stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Interval, bindparam, delete, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.engine import Database
from herald.common.db.models import Lock


@dataclass(frozen=True)
class Held:
    name: str
    owner: str
    token: int
    expires_at: datetime


async def acquire(session: AsyncSession, name: str, owner: str, ttl_s: float) -> Held | None:
    """Take ``name`` if it is free, expired, or already ours (then it is renewed)."""
    now, ttl = func.now(), timedelta(seconds=ttl_s)
    values = insert(Lock).values(
        name=name, owner=owner, token=1, acquired_at=now, expires_at=now + literal(ttl)
    )
    statement = values.on_conflict_do_update(
        index_elements=[Lock.name],
        set_={
            "owner": values.excluded.owner,
            "token": Lock.token + 1,
            "acquired_at": now,
            "expires_at": values.excluded.expires_at,
        },
        where=(Lock.expires_at <= now) | (Lock.owner == values.excluded.owner),
    ).returning(Lock.token, Lock.expires_at)
    row = (await session.execute(statement)).first()
    return Held(name, owner, row.token, row.expires_at) if row else None


async def renew(session: AsyncSession, held: Held, ttl_s: float) -> Held | None:
    """Extend a lock we still hold (same token, not expired); None once it is lost."""
    row = (
        await session.execute(
            update(Lock)
            .where(
                Lock.name == held.name,
                Lock.owner == held.owner,
                Lock.token == held.token,
                Lock.expires_at > func.now(),
            )
            .values(expires_at=func.now() + literal(timedelta(seconds=ttl_s)))
            .returning(Lock.expires_at)
        )
    ).first()
    return Held(held.name, held.owner, held.token, row.expires_at) if row else None


async def release(session: AsyncSession, held: Held) -> bool:
    """Give the lock up; False if it had already passed to someone else."""
    result = await session.execute(
        delete(Lock).where(
            Lock.name == held.name, Lock.owner == held.owner, Lock.token == held.token
        )
    )
    return bool(getattr(result, "rowcount", 0))


_EXPIRED = Lock.expires_at < func.now() - bindparam("grace", type_=Interval)
"""Expired longer ago than its grace (the database's clock: the holders' renewals use it)."""
_ANY_EXPIRED = select(exists().where(_EXPIRED))


async def any_expired(db: Database, grace_s: float) -> bool:
    """Whether ``clear_expired`` has anything to delete: one read, no transaction."""
    return await db.holds(_ANY_EXPIRED, {"grace": timedelta(seconds=grace_s)})


async def clear_expired(session: AsyncSession, grace_s: float, limit: int) -> list[str]:
    """Delete locks expired more than ``grace_s`` ago (a bounded batch); their names."""
    stale = (
        Lock.__table__.select()
        .with_only_columns(Lock.name)
        .where(_EXPIRED)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(Lock).where(Lock.name.in_(stale.scalar_subquery())).returning(Lock.name),
        {"grace": timedelta(seconds=grace_s)},
    )
    return list(result.scalars())
