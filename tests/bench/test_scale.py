"""The scale benchmarks with tiny counts: the harness keeps working, and the recovery runs
really move every row (checked in the database, not only in the figures)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bench.environment import BenchEnv, asyncpg_dsn
from bench.scale import dispatch_rate, jobs_page_latency, label, percentile, sweep_time

FLAGS = {"dispatch_extrapolated", "sweep_extrapolated"}


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[BenchEnv]:
    bench = BenchEnv.create()
    await asyncio.to_thread(bench.start)
    yield bench
    await asyncio.to_thread(bench.stop)
    shutil.rmtree(bench.home, ignore_errors=True)


def _positive(results: dict[str, float]) -> None:
    for key, value in results.items():
        if key not in FLAGS:
            assert value > 0, (key, value)


def test_labels_and_percentiles() -> None:
    assert [label(n) for n in (100, 1_000, 10_000, 1_000_000, 10_000_000, 2_500)] == [
        "100",
        "1k",
        "10k",
        "1M",
        "10M",
        "2500",
    ]
    samples = [float(n) for n in range(1, 101)]
    assert (percentile(samples, 50), percentile(samples, 95)) == (50.0, 95.0)


async def test_jobs_page_latency(env: BenchEnv) -> None:
    results = await jobs_page_latency(env, sizes=(100, 1_000), pages=5)
    for tenant in ("", "_small"):
        for tag in ("100", "1k"):
            for kind in ("", "_deep", "_filtered", "_rare"):
                assert f"jobs_page{tenant}{kind}_ms_p50@{tag}" in results
                assert f"jobs_page{tenant}{kind}_ms_p95@{tag}" in results
        for kind in ("", "_deep", "_filtered", "_rare"):
            assert f"jobs_page{tenant}{kind}_ratio_1k_vs_100" in results
    assert (results["jobs_rows@100"], results["jobs_rows@1k"]) == (100, 1_000)
    assert results["jobs_table_mb@1k"] > results["jobs_table_mb@100"]
    assert results["jobs_page_deep_depth@1k"] == 3  # our 100 jobs: pages of 50, 50 and 0
    _positive(results)


async def _counts(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


REQUESTS = """
SELECT count(*) AS staged, count(sent_at) AS sent FROM outbox
 WHERE subject LIKE 'herald.publish.requested.%'
"""


async def test_dispatch_moves_every_due_job_to_queued(env: BenchEnv) -> None:
    url = await env.database("test_scale_dispatch")
    results = await dispatch_rate(env, 200, database_url=url)
    assert results["dispatch_jobs"] == results["dispatched"] == 200
    assert results["dispatch_extrapolated"] == 0
    assert results["dispatch_stream_msgs"] == 200
    _positive(results)
    statuses = await _counts(url, "SELECT status, count(*) FROM publish_jobs GROUP BY status")
    assert {(r["status"], r["count"]) for r in statuses} == {("queued", 200)}
    [requests] = await _counts(url, REQUESTS)
    assert (requests["staged"], requests["sent"]) == (200, 200)


async def test_sweep_re_requests_every_stale_job(env: BenchEnv) -> None:
    url = await env.database("test_scale_sweep")
    results = await sweep_time(env, 200, database_url=url)
    assert results["sweep_jobs"] == results["swept"] == 200
    assert results["sweep_extrapolated"] == 0
    assert results["sweep_stream_msgs"] == 200
    _positive(results)
    [jobs] = await _counts(
        url,
        "SELECT count(*) AS all, count(*) FILTER (WHERE requested_at > now() - interval '5 min')"
        " AS fresh, count(DISTINCT status) AS statuses FROM publish_jobs",
    )
    assert (jobs["all"], jobs["fresh"], jobs["statuses"]) == (200, 200, 4)
    [requests] = await _counts(url, REQUESTS)
    assert (requests["staged"], requests["sent"]) == (200, 200)
