"""The round-trip counter that the statement-count tests rely on, on real PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from herald.common.db.engine import Database
from tests.integration.conftest import recorded_statements


async def test_the_tasks_a_block_starts_are_counted_and_tasks_started_before_are_not(
    db: Database,
) -> None:
    async def select(n: int) -> None:
        async with db.autocommit() as connection:
            await connection.execute(text(f"SELECT {n}"))

    released = asyncio.Event()

    async def started_before() -> None:
        await released.wait()
        await select(99)

    outsider = asyncio.create_task(started_before())
    with recorded_statements(db) as seen:
        await select(1)
        await asyncio.gather(select(2), select(3))  # each in a task of its own
        released.set()
        await outsider
    assert sorted(seen) == ["SELECT 1", "SELECT 2", "SELECT 3"]
