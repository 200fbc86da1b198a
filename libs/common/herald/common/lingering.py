"""Bookkeeping writes gathered for a moment, then made as one statement, off the caller's path.

``Lingering.add`` returns at once. The first item starts a flush that waits ``linger_s`` for
company (or until ``max_items`` are waiting), then writes what gathered, ``max_items`` per
call; items added while a flush runs go to the next. ``flush`` writes what is waiting now,
lingering no more while it waits, and returns once nothing is left to write (a service's
stop, a test).

Only for writes whose loss costs nothing but repeated work: a flush that fails is logged
(``flush_items`` counts it where that matters), never raised to whoever added the items. The
outbox's sent marks are such writes: a row left unmarked is published again by the background
relay, and JetStream's duplicate window stores it once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")


def flush_now(waiting: int, *, max_items: int) -> bool:
    """Whether a lingering flush should stop waiting for company (pure)."""
    return waiting >= max_items


class Lingering(Generic[T]):
    def __init__(
        self,
        flush_items: Callable[[list[T]], Awaitable[None]],
        *,
        linger_s: float,
        max_items: int = 1000,
    ) -> None:
        self._flush_items = flush_items
        self._linger_s = linger_s
        self._max_items = max_items
        self._items: list[T] = []
        self._full = asyncio.Event()
        self._running: asyncio.Task[None] | None = None
        self._flushing = 0  # callers of flush() waiting: no lingering meanwhile

    @property
    def waiting(self) -> int:
        """Items added and not yet handed to a flush."""
        return len(self._items)

    def add(self, items: Sequence[T]) -> None:
        """Queue ``items`` for a flush within ``linger_s``; never waits, never raises."""
        if not items:
            return
        self._items.extend(items)
        if flush_now(len(self._items), max_items=self._max_items):
            self._full.set()
        if self._running is None:
            self._running = asyncio.create_task(self._drain(), name="lingering-flush")

    async def flush(self) -> None:
        """Write what is waiting now; returns once nothing is left to write."""
        self._flushing += 1
        try:
            while self._running is not None:
                self._full.set()
                await asyncio.shield(self._running)
        finally:
            self._flushing -= 1

    async def _drain(self) -> None:
        try:
            while self._items:
                if not self._full.is_set() and not self._flushing:
                    with contextlib.suppress(TimeoutError):  # lingered long enough
                        await asyncio.wait_for(self._full.wait(), self._linger_s)
                items = self._items[: self._max_items]
                del self._items[: self._max_items]
                if not flush_now(len(self._items), max_items=self._max_items):
                    self._full.clear()  # what is left may linger; a full batch goes at once
                try:
                    await self._flush_items(items)
                except Exception as error:  # the items' loss costs repeated work, no more
                    log.warning("lingering.flush_failed", items=len(items), error=repr(error))
        finally:
            self._running = None
            self._full.clear()
