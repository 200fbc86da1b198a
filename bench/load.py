"""The two ways a benchmark offers work: saturated (as fast as the system takes it, with a cap
on the backlog so a fast producer cannot bury a slow consumer) and open loop (on the clock's
schedule, whatever the system does: a slow system meets a queue, as it would in production)."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Submit = Callable[[], Awaitable[int]]  # offers work, returns how many jobs it offered
Completed = Callable[[], Awaitable[int]]  # how many jobs have finished so far


@dataclass(frozen=True)
class Window:
    offered: int
    completed: int  # inside the measured window
    seconds: float

    @property
    def throughput(self) -> float:
        return self.completed / self.seconds if self.seconds > 0 else 0.0


async def saturate(
    submit: Submit,
    completed: Completed,
    *,
    seconds: float,
    clients: int,
    backlog_cap: int,
    warmup_s: float = 1.0,
) -> Window:
    """``clients`` loops offer work for ``warmup_s + seconds``, pausing while more than
    ``backlog_cap`` jobs wait; the jobs completed during the last ``seconds`` are counted."""
    offered = 0
    done = await completed()
    stop_at = time.monotonic() + warmup_s + seconds
    window: dict[str, float] = {}

    async def watch() -> None:
        nonlocal done
        measure_at = time.monotonic() + warmup_s
        while (now := time.monotonic()) < stop_at:
            done = await completed()
            if "start" not in window and now >= measure_at:
                window["start"], window["done_at_start"] = now, done
            await asyncio.sleep(0.1)
        window["end"], window["done_at_end"] = time.monotonic(), await completed()

    async def client() -> None:
        nonlocal offered
        while time.monotonic() < stop_at:
            if offered - done > backlog_cap:
                await asyncio.sleep(0.01)
                continue
            n = await submit()  # not `offered += await …`: that reads offered before awaiting
            offered += n

    await asyncio.gather(watch(), *(client() for _ in range(clients)))
    return Window(
        offered,
        int(window["done_at_end"] - window["done_at_start"]),
        window["end"] - window["start"],
    )


INTENDED: contextvars.ContextVar[float | None] = contextvars.ContextVar("intended", default=None)
"""In a call ``open_loop`` makes: when the schedule meant it to be sent (epoch seconds). A
generator that falls behind its schedule still measures latency from there, so a slow
system cannot hide its queue by slowing the load down (coordinated omission)."""


async def open_loop(submit: Submit, *, per_s: float, seconds: float, batch: int = 1) -> int:
    """Offer ``per_s`` jobs a second for ``seconds`` (``batch`` per call), on schedule; the
    number of jobs offered once every call has returned."""
    offered = 0

    async def one() -> None:
        nonlocal offered
        n = await submit()
        offered += n

    started, wall, n = time.monotonic(), time.time(), 0
    pending: set[asyncio.Task[None]] = set()
    tick = batch / per_s
    while (due := started + n * tick) < started + seconds:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        intended = INTENDED.set(wall + n * tick)  # the task gets a copy of the context now
        task = asyncio.create_task(one())
        INTENDED.reset(intended)  # not left set for whatever this caller runs next
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
    await asyncio.gather(*pending)
    return offered


async def until_completed(completed: Completed, jobs: int, within_s: float) -> int:
    """Wait until ``jobs`` have finished, or ``within_s``; how many finished (``completed``
    counts the jobs that succeeded). A job that never does is the suite's to report
    (``jobs_unfinished``: offered, not succeeded), not an error that ends the whole bench: a
    baseline without an outbox can lose a job under load, and that is a finding."""
    deadline = time.monotonic() + within_s
    while (done := await completed()) < jobs:
        if time.monotonic() > deadline:
            print(f"bench: {jobs - done} of {jobs} jobs unfinished after {within_s:.0f} s")
            return done
        await asyncio.sleep(0.05)
    return done
