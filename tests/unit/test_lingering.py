"""Lingering writes: gathered for a moment, written as one; never waited on, never raised."""

from __future__ import annotations

import asyncio

from herald.common.lingering import Lingering, flush_now


class Store:
    def __init__(self, fail_first: bool = False) -> None:
        self.flushes: list[list[int]] = []
        self.fail_first = fail_first
        self.wrote = asyncio.Event()

    async def write(self, items: list[int]) -> None:
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("database went away")
        self.flushes.append(items)
        self.wrote.set()


def test_a_flush_stops_lingering_once_enough_items_wait() -> None:
    assert not flush_now(999, max_items=1000)
    assert flush_now(1000, max_items=1000)


async def _written(store: Store, within_s: float = 10.0) -> None:
    await asyncio.wait_for(store.wrote.wait(), within_s)


async def test_items_added_within_the_linger_are_written_together() -> None:
    store = Store()
    marks = Lingering(store.write, linger_s=0.05)
    marks.add([1])
    marks.add([2, 3])
    assert store.flushes == [], "added, not yet written: the caller did not wait"
    await _written(store)  # nobody asked: the linger ran out
    assert store.flushes == [[1, 2, 3]]


async def test_a_full_batch_is_written_without_lingering_and_no_write_exceeds_it() -> None:
    store = Store()
    marks = Lingering(store.write, linger_s=3600, max_items=3)
    marks.add([1, 2, 3, 4, 5, 6, 7])
    await _written(store)
    await asyncio.sleep(0.05)
    assert store.flushes == [[1, 2, 3], [4, 5, 6]], "the seventh lingers"
    await marks.flush()
    assert store.flushes[-1] == [7]


async def test_flush_lingers_no_more_for_items_added_while_it_waits() -> None:
    slow = asyncio.Event()

    class SlowStore(Store):
        async def write(self, items: list[int]) -> None:
            await slow.wait()
            await super().write(items)

    store = SlowStore()
    marks = Lingering(store.write, linger_s=3600)
    marks.add([1])
    flushing = asyncio.create_task(marks.flush())
    await asyncio.sleep(0.01)  # the first write has started and waits
    marks.add([2])  # arrives during the write the flush waits for
    slow.set()
    await asyncio.wait_for(flushing, 5)  # would wait out the hour's linger for [2]
    assert store.flushes == [[1], [2]]


async def test_flush_writes_what_waits_now() -> None:
    store = Store()
    marks = Lingering(store.write, linger_s=3600)
    marks.add([1])
    await marks.flush()
    assert store.flushes == [[1]]
    assert marks.waiting == 0
    await marks.flush()  # nothing waiting: nothing written
    assert store.flushes == [[1]]
    marks.add([2])
    await asyncio.sleep(0.05)
    assert store.flushes == [[1]], "a flush asked earlier does not cut the next linger short"


async def test_a_failed_write_reaches_no_caller_and_later_items_still_go() -> None:
    store = Store(fail_first=True)
    marks = Lingering(store.write, linger_s=0.01)
    marks.add([1])
    await marks.flush()
    marks.add([2])
    await marks.flush()
    assert store.flushes == [[2]]


async def test_nothing_to_write_starts_nothing() -> None:
    store = Store()
    marks = Lingering(store.write, linger_s=0.01)
    marks.add([])
    await marks.flush()
    assert store.flushes == []
