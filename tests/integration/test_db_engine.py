"""Without pre-ping, a pooled connection the server closed (PostgreSQL restarted, a backend
terminated) is replaced at checkout: the next transaction succeeds instead of failing."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
from sqlalchemy import text

from herald.common.db.engine import Database


def _dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def test_a_connection_the_server_closed_is_replaced_at_checkout(database_url: str) -> None:
    name = f"engine-test-{uuid.uuid4().hex[:8]}"
    db = Database(database_url, pool_size=1, application_name=name)
    admin = await asyncpg.connect(_dsn(database_url))
    try:
        async with db.transaction() as session:  # the pool now holds one open connection
            first = await session.scalar(text("SELECT pg_backend_pid()"))
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            name,
        )
        deadline = time.monotonic() + 10
        while await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name
        ):
            assert time.monotonic() < deadline, "the backend did not go away"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # the client's event loop reads the closed socket

        async with db.transaction() as session:
            second = await session.scalar(text("SELECT pg_backend_pid()"))

        assert second != first  # a fresh connection, and no error
    finally:
        await admin.close()
        await db.dispose()


async def test_autocommit_runs_each_statement_alone_and_gives_back_a_transactional_connection(
    database_url: str,
) -> None:
    db = Database(database_url, pool_size=1)  # one connection: the same one comes back
    txid = text("SELECT txid_current()")
    try:
        async with db.autocommit() as connection:
            alone = [await connection.scalar(txid) for _ in range(2)]
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert alone[0] != alone[1], "each statement commits on its own"
        async with db.transaction() as session:
            assert await session.scalar(text("SELECT pg_backend_pid()")) == pid
            together = [await session.scalar(txid) for _ in range(2)]
        assert together[0] == together[1], "the pooled connection is transactional again"
    finally:
        await db.dispose()


async def test_a_health_check_answers_while_work_holds_every_pooled_connection(
    database_url: str,
) -> None:
    """A saturated instance is busy, not cut off from PostgreSQL: its probe does not queue
    behind the pool (it would wait pool_timeout, 30 s, and report the database down)."""
    db = Database(database_url, pool_size=2)
    try:
        async with db.engine.connect(), db.engine.connect():  # the whole pool is at work
            await asyncio.wait_for(db.ping(), timeout=5)
    finally:
        await db.dispose()
