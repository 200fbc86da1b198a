"""Engine and transactions: a unit of work that rolls back unless it completes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Executable, event, exc, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

TENANT_ROLE = "herald_tenant"
# Both settings are local to the transaction: the pooled connection comes back as it was.
_ENTER_TENANT = text(
    f"SELECT set_config('role', '{TENANT_ROLE}', true),"
    " set_config('herald.tenant_id', :tenant, true)"
)


def _refuse_closed(dbapi_connection: Any, _record: object, _proxy: object) -> None:
    """A pooled connection the server closed (PostgreSQL restarted) is replaced at checkout,
    without a round trip: asyncpg learns of the closed socket from the event loop.
    (``pool_pre_ping`` would send BEGIN, a query and ROLLBACK before every transaction: a
    third of the publisher's statements.) A connection that dies unnoticed fails its one
    statement; SQLAlchemy then invalidates the whole pool, and the work is retried (messages
    are redelivered, loops run again, the API answers 503)."""
    raw = dbapi_connection.driver_connection  # the asyncpg connection under the adapter
    if raw.is_closed():
        raise exc.DisconnectionError("the server closed this connection")


def _engine(url: str, pool_size: int, application_name: str) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        # a fixed pool: an overflow connection is closed when it comes back to a full
        # pool, so a process busier than its pool (the API under load) opened a new one
        # (a new PostgreSQL backend, its types introspected, its statements prepared
        # again) for nearly every transaction: a tenth of the API's CPU, measured. Past
        # the pool, work waits for a connection (pool_timeout: 30 s) instead.
        max_overflow=0,
        pool_pre_ping=False,  # three round trips per checkout; see _refuse_closed
        hide_parameters=True,  # row values (keys, tokens) never reach a logged error
        connect_args={"server_settings": {"application_name": application_name}},
    )
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    return engine


class Database:
    """One engine per process; ``transaction()`` is the unit of work."""

    def __init__(self, url: str, *, pool_size: int = 10, application_name: str = "herald"):
        self.engine = _engine(url, pool_size, application_name)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # health checks on a connection of their own: behind a busy fixed pool they would wait
        # for work to give one back, and a saturated instance would report PostgreSQL down
        self._probe = _engine(url, 1, f"{application_name}-probe")

    @asynccontextmanager
    async def transaction(self, tenant: uuid.UUID | None = None) -> AsyncIterator[AsyncSession]:
        """Commit when the block completes, roll back when it raises.

        With ``tenant``, the transaction runs as the role ``herald_tenant`` with that tenant
        set: PostgreSQL's row security then hides and refuses every other tenant's rows, a
        second wall under the queries' own ``tenant_id`` filters (migration 0015)."""
        async with self.sessions.begin() as session:
            if tenant is not None:
                await session.execute(_ENTER_TENANT, {"tenant": str(tenant)})
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection outside any transaction: each statement commits on its own. For a lone
        read or a lone write, one round trip instead of three (BEGIN, it, COMMIT).

        It runs as the owner role: row security does not apply (a tenant setting would last
        one statement). Never read or write a tenant's data through it on a tenant's behalf;
        the pool gives the connection back in transactional mode."""
        async with self.engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")

    async def holds(self, probe: Executable, params: Mapping[str, Any] | None = None) -> bool:
        """Whether a prebuilt ``SELECT EXISTS (…)`` is true: one read in autocommit. A polling
        loop asks before it claims, so an idle tick costs that read instead of a transaction
        (BEGIN, a claiming UPDATE, COMMIT) and the building of its statement."""
        async with self.autocommit() as connection:
            return bool(await connection.scalar(probe, dict(params or {})))

    async def ping(self) -> None:
        """PostgreSQL answers, on the health checks' own connection (never queued behind work)."""
        async with self._probe.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        await self._probe.dispose()
