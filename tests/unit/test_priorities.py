"""Priority admission: the pure choice and the slot pool built on it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from herald.publisher.domain.priorities import Waiter, next_waiter
from herald.publisher.gate import PriorityGate


@pytest.mark.parametrize(
    ("waiters", "now", "expected"),
    [
        ([], 0.0, None),
        ([Waiter("low", 0, 1), Waiter("high", 0, 2)], 1.0, 2),
        ([Waiter("normal", 0, 1), Waiter("normal", 0, 2)], 1.0, 1),  # first come first served
        ([Waiter("low", 0, 1), Waiter("high", 4, 2)], 5.0, 1),  # low starved 5 s: it goes first
        ([Waiter("low", 1, 1), Waiter("normal", 0.5, 2), Waiter("high", 4.9, 3)], 5.0, 3),
    ],
)
def test_next_waiter(waiters: list[Waiter], now: float, expected: int | None) -> None:
    chosen = next_waiter(waiters, now, max_wait_s=5.0)
    assert (chosen.seq if chosen else None) == expected


async def test_a_freed_slot_goes_to_high_before_low() -> None:
    gate = PriorityGate(capacity=1)
    order: list[str] = []
    release = asyncio.Event()

    async def job(priority: str) -> None:
        async with gate.slot(priority):
            order.append(priority)
            if priority == "first":
                await release.wait()

    first = asyncio.create_task(job("first"))
    await asyncio.sleep(0.01)
    waiting = [asyncio.create_task(job(p)) for p in ("low", "normal", "low", "high")]
    await asyncio.sleep(0.01)
    assert order == ["first"]
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["first", "high", "normal", "low", "low"]


async def test_capacity_is_never_exceeded_and_cancelled_waiters_give_back_their_slot() -> None:
    gate = PriorityGate(capacity=3)
    running, peak = 0, 0

    async def job(n: int) -> None:
        nonlocal running, peak
        async with gate.slot(("high", "normal", "low")[n % 3]):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.005)
            running -= 1

    tasks = [asyncio.create_task(job(n)) for n in range(60)]
    await asyncio.sleep(0.002)
    for task in tasks[30:40]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert peak == 3
    async with asyncio.timeout(1):  # all three slots are free again
        async with gate.slot("low"), gate.slot("low"), gate.slot("low"):
            pass


async def test_waiting_keeps_the_message_alive() -> None:
    gate = PriorityGate(capacity=1)
    beats: list[int] = []

    async def keepalive() -> None:
        beats.append(1)

    async with gate.slot("high"):
        waiter = asyncio.create_task(_take(gate, keepalive))
        await asyncio.sleep(0.35)
    await waiter
    assert len(beats) >= 2


async def _take(gate: PriorityGate, keepalive: Callable[[], Awaitable[None]]) -> None:
    async with gate.slot("low", keepalive, keepalive_every_s=0.1):
        pass
