"""Distributed locks with expiry and fencing, on PostgreSQL's clock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import func, literal, select, update

from herald.common import locks
from herald.common.db.engine import Database
from herald.common.db.models import Lock
from herald.recovery.sweeps import clear_stale_locks
from tests.integration.conftest import one_read, recorded_statements


def _name() -> str:
    return f"sync:yodeck:{uuid.uuid4().hex[:8]}"


async def _acquire(db: Database, name: str, owner: str, ttl_s: float = 30) -> locks.Held | None:
    async with db.transaction() as session:
        return await locks.acquire(session, name, owner, ttl_s)


async def test_one_of_many_contenders_holds_the_lock(db: Database) -> None:
    name = _name()
    held = await asyncio.gather(*(_acquire(db, name, f"worker-{n}") for n in range(10)))
    winners = [h for h in held if h is not None]
    assert len(winners) == 1
    assert winners[0].token == 1


async def _expire(db: Database, name: str, seconds_ago: float) -> None:
    """Make the lock look as if its holder stopped renewing it ``seconds_ago``."""
    async with db.transaction() as session:
        await session.execute(
            update(Lock)
            .where(Lock.name == name)
            .values(expires_at=func.now() - literal(timedelta(seconds=seconds_ago)))
        )


async def test_an_expired_lock_is_taken_over_and_fences_its_old_holder(db: Database) -> None:
    name = _name()
    first = await _acquire(db, name, "stalled")
    assert first is not None
    assert await _acquire(db, name, "eager") is None  # still held
    await _expire(db, name, 1)
    second = await _acquire(db, name, "eager")
    assert second is not None
    assert second.token == first.token + 1
    async with db.transaction() as session:
        assert await locks.renew(session, first, 30) is None  # the stalled holder lost it
        assert not await locks.release(session, first)
        renewed = await locks.renew(session, second, 30)
    assert renewed is not None
    assert renewed.token == second.token


async def test_release_frees_the_lock_for_the_next(db: Database) -> None:
    name = _name()
    held = await _acquire(db, name, "a")
    assert held is not None
    async with db.transaction() as session:
        assert await locks.release(session, held)
    assert await _acquire(db, name, "b") is not None


async def test_recovery_clears_locks_expired_beyond_the_grace(db: Database) -> None:
    stale, fresh, recent = _name(), _name(), _name()
    for name in (stale, fresh, recent):
        assert await _acquire(db, name, "w") is not None
    await _expire(db, stale, 120)
    await _expire(db, recent, 5)
    cleared = await clear_stale_locks(db, grace_s=60, batch_size=100)
    assert stale in cleared
    assert fresh not in cleared and recent not in cleared
    async with db.transaction() as session:
        left = set(
            await session.scalars(select(Lock.name).where(Lock.name.in_([stale, fresh, recent])))
        )
    assert left == {fresh, recent}


async def test_an_idle_clearing_reads_once_and_deletes_nothing(db: Database) -> None:
    await clear_stale_locks(db, grace_s=60, batch_size=10_000)  # whatever other tests left
    with recorded_statements(db) as statements:
        assert await clear_stale_locks(db, grace_s=60, batch_size=100) == []
    assert one_read(statements), statements
    stale = _name()
    assert await _acquire(db, stale, "w") is not None
    await _expire(db, stale, 120)
    assert await clear_stale_locks(db, grace_s=60, batch_size=100) == [stale]
