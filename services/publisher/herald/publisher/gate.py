"""A shared pool of worker slots admitted by priority (see ``domain.priorities``).

Each priority class has its own durable consumer; every handler first takes a slot here, so
the process runs at most ``capacity`` jobs at once and, when it is saturated, high goes first.
A message waiting for a slot is kept alive with in-progress acks.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from prometheus_client import Histogram

from herald.publisher.domain.priorities import Waiter, next_waiter

SLOT_WAIT = Histogram(
    "herald_priority_slot_wait_seconds",
    "Time a fetched job waited for a worker slot",
    ["priority"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30),
)


class PriorityGate:
    def __init__(self, capacity: int, max_wait_s: float = 5.0):
        self._free = capacity
        self._max_wait_s = max_wait_s
        self._waiting: dict[Waiter, asyncio.Future[None]] = {}
        self._seq = itertools.count()

    @asynccontextmanager
    async def slot(
        self,
        priority: str,
        keepalive: Callable[[], Awaitable[None]] | None = None,
        keepalive_every_s: float = 10.0,
    ) -> AsyncIterator[None]:
        started = time.monotonic()
        await self._acquire(priority, keepalive, keepalive_every_s)
        SLOT_WAIT.labels(priority).observe(time.monotonic() - started)
        try:
            yield
        finally:
            self._free += 1
            self._admit()

    async def _acquire(
        self, priority: str, keepalive: Callable[[], Awaitable[None]] | None, every_s: float
    ) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        waiter = Waiter(priority, time.monotonic(), next(self._seq))
        admitted = asyncio.get_running_loop().create_future()
        self._waiting[waiter] = admitted
        self._admit()
        try:
            while True:
                try:
                    await asyncio.wait_for(asyncio.shield(admitted), timeout=every_s)
                    return
                except TimeoutError:
                    if keepalive is not None:
                        await keepalive()
        except BaseException:
            if self._waiting.pop(waiter, None) is None and admitted.done():
                self._free += 1  # admitted while being cancelled: give the slot back
                self._admit()
            raise

    def _admit(self) -> None:
        while self._free > 0:
            chosen = next_waiter(list(self._waiting), time.monotonic(), self._max_wait_s)
            if chosen is None:
                return
            self._free -= 1
            future = self._waiting.pop(chosen)
            with suppress(asyncio.InvalidStateError):
                future.set_result(None)
