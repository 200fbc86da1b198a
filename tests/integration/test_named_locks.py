"""Exclusive sections across publishers on the locks table (real PostgreSQL): a held name
makes a caller wait and then fail as transient, an expired holder is taken over, and a hold
gives its lock back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from herald.common import locks
from herald.common.db.engine import Database
from herald.common.db.models import Lock
from herald.publisher.domain.errors import TransientPublishError
from herald.publisher.named_locks import NamedLocks


async def _owner(db: Database, name: str) -> str | None:
    async with db.transaction() as session:
        return await session.scalar(select(Lock.owner).where(Lock.name == name))


async def test_a_held_name_makes_the_caller_fail_as_transient_after_its_wait(db: Database) -> None:
    name = f"yodeck:playlist:{uuid.uuid4()}"
    async with db.transaction() as session:
        await locks.acquire(session, name, "other-publisher", ttl_s=60)
    with pytest.raises(TransientPublishError) as busy:
        async with NamedLocks(db, "p1", wait_s=0.3).hold(name):
            pytest.fail("entered a section another publisher holds")
    assert busy.value.code == "lock_busy"
    assert await _owner(db, name) == "other-publisher"


async def test_an_expired_holder_is_taken_over_and_the_hold_gives_the_lock_back(
    db: Database,
) -> None:
    name = f"yodeck:playlist:{uuid.uuid4()}"
    async with db.transaction() as session:
        await locks.acquire(session, name, "crashed-publisher", ttl_s=60)
        await session.execute(
            update(Lock)
            .where(Lock.name == name)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    async with NamedLocks(db, "p1", wait_s=2).hold(name):
        owner = await _owner(db, name)
        assert owner is not None
        assert owner.startswith("p1:")
    assert await _owner(db, name) is None
