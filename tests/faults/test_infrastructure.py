"""The infrastructure fails under load: nats-server killed, PostgreSQL stopped immediately, a
publisher paused beyond its lease, publishers killed among duplicate and poison messages.
Each on an installation of its own; every approved job ends with exactly one post."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chaos.installation import Installation
from tests.chaos.scenario import Plan, Result, run

QUIET = Plan(
    assets=10,
    channels=4,
    publisher_kills=0,
    nats_restarts=0,
    postgres_restarts=0,
    duplicate_requests=0,
    poison_messages=False,
    fault_window_s=4.0,
    drain_timeout_s=90.0,
    seed=7,
)


@pytest.fixture
async def installation(infra_dir: Path) -> AsyncIterator[Installation]:
    """Under the session's world-traversable folder: embedded PostgreSQL runs as its own user."""
    own = Installation(Path(tempfile.mkdtemp(prefix="installation-", dir=infra_dir)))
    await asyncio.to_thread(own.start)
    yield own
    await asyncio.to_thread(own.stop)


async def _survives(installation: Installation, plan: Plan) -> Result:
    result = await run(installation, plan)
    print(
        f"\n{result.faults} → drained {result.drain_s:.1f} s after the last fault,"
        f" {result.takeovers} taken over"
    )
    assert result.faults, "the fault really happened"
    assert (result.jobs, result.succeeded, result.posts) == (plan.jobs, plan.jobs, plan.jobs)
    assert (result.duplicates, result.lost, result.contradicted) == (0, 0, 0)
    return result


async def test_nats_server_killed_and_restarted_mid_work(installation: Installation) -> None:
    await _survives(installation, Plan(**{**QUIET.__dict__, "nats_restarts": 1}))


async def test_postgres_stopped_immediately_and_restarted_mid_work(
    installation: Installation,
) -> None:
    await _survives(installation, Plan(**{**QUIET.__dict__, "postgres_restarts": 1}))


async def test_a_publisher_paused_beyond_its_lease_is_fenced_out(
    installation: Installation,
) -> None:
    """Calls take 400 ms, so the paused publisher holds calls in flight; the other takes its
    jobs over by asking the platform, and the paused one's late results are refused."""
    plan = Plan(**{**QUIET.__dict__, "publisher_pauses": 1, "sandbox_delay_ms": 400})
    result = await _survives(installation, plan)
    assert result.takeovers > 0, "the paused publisher really held jobs"


async def test_publishers_killed_among_duplicate_and_poison_messages(
    installation: Installation,
) -> None:
    plan = Plan(
        **{
            **QUIET.__dict__,
            "publisher_kills": 3,
            "duplicate_requests": 20,
            "poison_messages": True,
        }
    )
    await _survives(installation, plan)
