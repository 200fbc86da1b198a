"""Short exclusive sections across publishers (a Yodeck playlist read and written whole), on
the locks table: a holder that dies loses the lock when it expires, so nothing waits forever."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog

from herald.common import locks
from herald.common.db.engine import Database
from herald.publisher import metrics
from herald.publisher.domain.errors import TransientPublishError

log = structlog.get_logger(__name__)
POLL_S = 0.05
MAX_POLL_S = 1.0


@dataclass
class NamedLocks:
    """``ttl_s`` bounds how long a dead holder blocks others; ``wait_s`` how long a caller
    waits before its attempt fails as transient (and is retried later)."""

    db: Database
    owner: str
    ttl_s: float = 60.0
    wait_s: float = 30.0

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        owner = f"{self.owner}:{uuid.uuid4().hex[:8]}"  # each hold its own, even in one process
        held = await self._acquire(name, owner)
        try:
            yield
        finally:
            await asyncio.shield(self._release(held))

    async def _acquire(self, name: str, owner: str) -> locks.Held:
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + self.wait_s, POLL_S
        while True:
            async with self.db.transaction() as session:
                held = await locks.acquire(session, name, owner, self.ttl_s)
            if held is not None:
                metrics.LOCK_WAITS.labels("acquired").inc()
                return held
            if loop.time() >= deadline:
                metrics.LOCK_WAITS.labels("busy").inc()
                raise TransientPublishError("lock_busy", f"{name} stayed held {self.wait_s:g} s")
            await asyncio.sleep(pause)
            pause = min(MAX_POLL_S, pause * 2)  # a long holder is not asked 20 times a second

    async def _release(self, held: locks.Held) -> None:
        async with self.db.transaction() as session:
            if not await locks.release(session, held):
                log.warning("lock.lost", name=held.name, token=held.token)
