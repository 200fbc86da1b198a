"""The load generator's wait for the last jobs: a job that never finishes is counted, not
raised, so one lost job does not end the whole bench."""

from __future__ import annotations

from bench.load import INTENDED, open_loop, until_completed


async def test_jobs_that_never_finish_are_counted_once_the_wait_is_over() -> None:
    async def three() -> int:
        return 3

    assert await until_completed(three, 5, within_s=0.1) == 3


async def test_the_wait_ends_as_soon_as_every_job_has_finished() -> None:
    seen = iter([1, 4, 5, 5])

    async def growing() -> int:
        return next(seen)

    assert await until_completed(growing, 5, within_s=30) == 5


async def test_an_open_loop_leaves_no_intended_time_behind_for_the_next_suite() -> None:
    """A saturated suite run after an open loop reads the clock, not the loop's last schedule
    (a stale time made later runs' saturated latencies minutes long)."""
    seen: list[float | None] = []

    async def submit() -> int:
        seen.append(INTENDED.get())
        return 1

    assert await open_loop(submit, per_s=100, seconds=0.05) == len(seen) == 5
    assert all(intended is not None for intended in seen)
    assert INTENDED.get() is None
