"""Group commit: callers arriving during a flush share the next one; a failure reaches only
the callers of its flush; a caller that stops waiting does not stop the write."""

from __future__ import annotations

import asyncio

import pytest

from herald.common.group_commit import GroupCommit


class Store:
    def __init__(self) -> None:
        self.flushes: list[list[int]] = []
        self.gate = asyncio.Event()
        self.fail_next = False

    async def flush(self, items: list[int]) -> None:
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database went away")
        self.flushes.append(items)


async def test_a_lone_caller_flushes_at_once() -> None:
    store = Store()
    store.gate.set()
    await GroupCommit(store.flush).submit([1, 2])
    assert store.flushes == [[1, 2]]


async def test_callers_arriving_during_a_flush_share_the_next_one() -> None:
    store = Store()
    group = GroupCommit(store.flush)
    first = asyncio.create_task(group.submit([1]))
    await asyncio.sleep(0)  # the first flush has started and waits on the database
    later = [asyncio.create_task(group.submit([n])) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(first, *later)
    assert store.flushes == [[1], [2, 3, 4]]


async def test_a_failure_reaches_the_callers_of_its_flush_only() -> None:
    store = Store()
    group = GroupCommit(store.flush)
    store.fail_next = True
    first = asyncio.create_task(group.submit([1]))
    await asyncio.sleep(0)
    second = asyncio.create_task(group.submit([2]))
    store.gate.set()
    with pytest.raises(RuntimeError, match="database went away"):
        await first
    await second
    assert store.flushes == [[2]]


async def test_a_caller_that_stops_waiting_does_not_stop_the_flush() -> None:
    store = Store()
    group = GroupCommit(store.flush)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(group.submit([7]), 0.01)
    store.gate.set()
    await group.submit([8])
    assert store.flushes == [[7], [8]]


async def test_nothing_to_write_writes_nothing() -> None:
    store = Store()
    await GroupCommit(store.flush).submit([])
    assert store.flushes == []
