"""The load generator's wait for the last jobs: a job that never finishes is counted, not
raised, so one lost job does not end the whole bench."""

from __future__ import annotations

from bench.load import until_completed


async def test_jobs_that_never_finish_are_counted_once_the_wait_is_over() -> None:
    async def three() -> int:
        return 3

    assert await until_completed(three, 5, within_s=0.1) == 3


async def test_the_wait_ends_as_soon_as_every_job_has_finished() -> None:
    seen = iter([1, 4, 5, 5])

    async def growing() -> int:
        return next(seen)

    assert await until_completed(growing, 5, within_s=30) == 5
