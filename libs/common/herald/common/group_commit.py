"""Group commit: concurrent callers' small writes made as one statement.

A caller hands its items to ``GroupCommit.submit`` and waits until a flush that holds them has
finished. The first caller flushes at once (no waiting for company); callers that arrive while
a flush runs are gathered into the next one. Under load one statement serves many callers;
alone, a caller waits no longer than its own write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, flush: Callable[[list[T]], Awaitable[None]]) -> None:
        self._flush = flush
        self._items: list[T] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[T]) -> None:
        """Returns once ``items`` are flushed; raises what their flush raised."""
        if not items:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter.add_done_callback(_retrieved)  # a caller that stopped waiting leaves no warning
        self._items.extend(items)
        self._waiters.append(waiter)
        if self._running is None:
            self._running = asyncio.create_task(self._drain())
        await asyncio.shield(waiter)  # a caller that stops waiting does not stop the flush

    async def _drain(self) -> None:
        try:
            while self._items:
                items, waiters = self._items, self._waiters
                self._items, self._waiters = [], []
                try:
                    await self._flush(items)
                except Exception as error:  # each waiter of this flush gets its failure
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(error)
                else:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
        finally:
            self._running = None


def _retrieved(waiter: asyncio.Future[None]) -> None:
    if not waiter.cancelled():
        waiter.exception()
