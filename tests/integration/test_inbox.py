"""The inbox against real PostgreSQL: an event's effect happens once per consumer."""

from __future__ import annotations

import asyncio

from herald.common.db.engine import Database
from herald.common.ids import new_id
from herald.common.inbox import first_delivery


async def test_second_delivery_is_recognised(db: Database) -> None:
    event_id = new_id()
    async with db.transaction() as session:
        assert await first_delivery(session, "c1", event_id) is True
    async with db.transaction() as session:
        assert await first_delivery(session, "c1", event_id) is False
    async with db.transaction() as session:
        assert await first_delivery(session, "c2", event_id) is True, "consumers are separate"


async def test_rolled_back_effect_does_not_consume_the_event(db: Database) -> None:
    event_id = new_id()
    try:
        async with db.transaction() as session:
            assert await first_delivery(session, "c1", event_id)
            raise RuntimeError("the effect failed")
    except RuntimeError:
        pass
    async with db.transaction() as session:
        assert await first_delivery(session, "c1", event_id) is True


async def test_concurrent_deliveries_have_one_winner(db: Database) -> None:
    event_id = new_id()

    async def deliver() -> bool:
        async with db.transaction() as session:
            return await first_delivery(session, "race", event_id)

    results = await asyncio.gather(*(deliver() for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
