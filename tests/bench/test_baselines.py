"""The Celery and dramatiq baselines with tiny counts, on the machine's Redis: every job runs
exactly once (one post each at the sandbox, no second delivery, one succeeded row each), and a
missing broker skips the suite with a message that says so."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from types import ModuleType

import asyncpg
import httpx
import pytest

from bench import celery_baseline, dramatiq_baseline
from bench.environment import BenchEnv, Skip
from bench.job_rows import SUCCEEDED

JOBS = 20
BASELINES = [
    pytest.param(celery_baseline, "celery", id="celery"),
    pytest.param(dramatiq_baseline, "dramatiq", id="dramatiq"),
]


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[BenchEnv]:
    bench = BenchEnv.create()
    await asyncio.to_thread(bench.start)
    yield bench
    await asyncio.to_thread(bench.stop)
    await asyncio.to_thread(shutil.rmtree, bench.home, True)


async def _succeeded_rows(env: BenchEnv, prefix: str) -> int:
    """Counted in the run's own database (the suite's newest: ``<prefix>_<pid>_<n>``), not
    taken from its figures."""
    admin = await asyncpg.connect(env.postgres.dsn)
    try:
        names = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{prefix}\\_%"
        )
    finally:
        await admin.close()
    newest = max((row["datname"] for row in names), key=lambda name: int(name.rsplit("_", 1)[1]))
    conn = await asyncpg.connect(env.postgres.dsn_for(newest))
    try:
        return int(await conn.fetchval(SUCCEEDED))
    finally:
        await conn.close()


@pytest.mark.parametrize(("module", "prefix"), BASELINES)
async def test_every_job_runs_once(env: BenchEnv, module: ModuleType, prefix: str) -> None:
    async with httpx.AsyncClient(base_url=env.sandbox_url) as sandbox:
        (await sandbox.delete("/posts")).raise_for_status()
        try:
            figures = await module.run(env, jobs=JOBS)
        except Skip as skip:
            pytest.skip(str(skip))
        posts = (await sandbox.get("/posts", params={"account": "bench"})).json()
    assert figures["throughput_jobs_s"] > 0
    assert figures["jobs"] == JOBS
    assert figures["seconds"] > 0
    assert 0 < figures["latency_p50_ms"] <= figures["latency_p95_ms"] <= figures["latency_p99_ms"]
    assert figures["cpu_ms_per_job"] > 0
    assert figures["peak_rss_mb_worker"] > 0
    assert len(posts) == JOBS
    assert sum(post["deliveries"] for post in posts) == JOBS  # no job posted twice
    assert len({post["idempotency_key"] for post in posts}) == JOBS
    assert figures["attempts"] == JOBS
    assert await _succeeded_rows(env, prefix) == JOBS


@pytest.mark.parametrize(("module", "prefix"), BASELINES)
async def test_open_loop_latency(env: BenchEnv, module: ModuleType, prefix: str) -> None:
    async with httpx.AsyncClient(base_url=env.sandbox_url) as sandbox:
        (await sandbox.delete("/posts")).raise_for_status()
        try:
            figures = await module.latency(env, rate_per_s=40, seconds=0.5)
        except Skip as skip:
            pytest.skip(str(skip))
        posts = (await sandbox.get("/posts", params={"account": "bench"})).json()
    assert figures["jobs"] == JOBS
    assert figures["offered_jobs_s"] == 40
    assert 0 < figures["latency_p50_ms"] <= figures["latency_p99_ms"]
    assert sum(post["deliveries"] for post in posts) == len(posts) == JOBS
    assert await _succeeded_rows(env, prefix) == JOBS


@pytest.mark.parametrize(("module", "prefix"), BASELINES)
async def test_no_broker_skips_with_a_message(
    env: BenchEnv, module: ModuleType, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_BENCH_REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(Skip, match=r"Redis at 127\.0\.0\.1:1 is not running: the \w+ baseline"):
        await module.run(env, jobs=JOBS)
