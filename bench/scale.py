"""Scale: how Herald behaves with a big ``publish_jobs`` table.

- ``jobs_page_latency``: ``GET /v1/jobs`` (first page, a page 20 cursors deep, filtered pages)
  through the real API process while one database grows to 10k, 1M and 10M jobs;
- ``dispatch_rate``: 1M scheduled jobs falling due at once, dispatched by the real recovery
  process (scheduled → queued, ``publish.requested`` staged through the outbox and published);
- ``sweep_time``: 100k stale jobs (lost requests, expired leases, overdue retries, uncertain
  calls) re-requested by the real recovery process.

Rows are written with ``INSERT … SELECT … FROM generate_series`` in batches, shaped like an
installation that has aged: growing the table adds *older* jobs, so the newest page is the same
page at every size. 100 tenants: "ours" owns 10% of the jobs (the largest tenant), a typical one
0.9% (as do the 98 others); 8 channels per tenant over 4 platforms; every asset has one job per
channel of its tenant (the jobs of an asset share their ``created_at``, as an approval's do); ids
are UUIDv7-shaped (time-ordered) with the row's creation time; old jobs are finished (mostly
succeeded), only the newest 2,000 are in flight. Foreign-key triggers are off while seeding
(``session_replication_role = replica``): the rows are consistent by construction.

The recovery runs get a nats-server of their own (the default fsync, like
``env.nats["default"]``): the millions of ``publish.requested`` they publish, which no publisher
consumes, must not reach the PUBLISH stream another suite's publishers read.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import nats

from bench.environment import BenchEnv, asyncpg_dsn
from herald.cli.fleet import Fleet, ServiceProcess, ServiceSpec
from herald.cli.infra.nats_server import NatsServer
from herald.cli.infra.ports import free_port
from herald.cli.installation import Ports, shared_env

OPERATOR_TOKEN = "bench-scale-operator"  # noqa: S105 - a throwaway API on loopback
PLATFORMS = ("sandbox", "mastodon", "x", "yodeck")
CHANNELS_PER_TENANT = 8  # two per platform; an asset has one job on each
TENANTS = 100  # "ours" is tenant 0: every 10th asset, 10% of the jobs
BATCH = 1_000_000  # rows per INSERT … SELECT
SPAN = timedelta(days=180)  # the largest table spans half a year
IN_FLIGHT = 2_000  # the newest jobs are not finished yet
DEEP_PAGES = 20
FILTERS = {  # a common filter (a third of our jobs), a rare one (1.5%), a platform alone
    "_filtered": {"status": "succeeded", "platform": "mastodon"},
    "_rare": {"status": "failed", "platform": "x"},
    "_platform": {"platform": "yodeck"},
}
SLOW_POLL_S = 30.0


def label(n: int) -> str:
    """10_000 → '10k', 1_000_000 → '1M'."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


# Seeding ------------------------------------------------------------------------------------

# A time-ordered UUID (version 7 layout) from a timestamp and a counter, unique per counter.
_UUID = (
    "(lpad(to_hex((extract(epoch FROM {at}) * 1000)::bigint), 12, '0') || '7' || "
    "lpad(to_hex({n} % 4096), 3, '0') || '{variant}' || lpad(to_hex({n}), 15, '0'))::uuid"
)
# The 0-based index into $3 (the tenants, at least 2) of asset ``a``'s tenant: 0 every 10th.
_TENANT_OF = "(CASE WHEN a % 10 = 0 THEN 0 ELSE 1 + a % (cardinality($3::uuid[]) - 1) END)"

INSERT_ASSETS = f"""
INSERT INTO assets (id, tenant_id, title, body, channel_ids, status, priority, approved_at,
                    created_at, updated_at)
SELECT {_UUID.format(at="at", n="a", variant="8")}, ($3::uuid[])[t + 1], 'bench ' || a, 'b',
       ($4::uuid[])[t * {CHANNELS_PER_TENANT} + 1 : (t + 1) * {CHANNELS_PER_TENANT}],
       'approved', 'normal', at, at, at
  FROM (SELECT a, t, $5::timestamptz - a * $6::interval AS at
          FROM (SELECT a, {_TENANT_OF} AS t FROM generate_series($1::bigint, $2::bigint - 1) a) s
       ) x
"""  # noqa: S608 - built from this module's constants

# ``{state}``: a SQL expression of ``i`` (and ``h``, a hash of it) giving the job's status.
INSERT_JOBS = f"""
INSERT INTO publish_jobs (id, tenant_id, asset_id, channel_id, platform, status, priority,
                          scheduled_for, attempts, version, lease_owner, lease_expires_at,
                          next_attempt_at, external_id, last_error_code, queued_at, requested_at,
                          attempt_base, finished_at, created_at, updated_at)
SELECT {_UUID.format(at="at", n="i", variant="9")}, ($3::uuid[])[t + 1],
       {_UUID.format(at="at", n="a", variant="8")},
       ($4::uuid[])[t * {CHANNELS_PER_TENANT} + c + 1],
       ($7::text[])[c % cardinality($7::text[]) + 1], status,
       CASE WHEN h % 20 = 0 THEN 'high' WHEN h % 20 = 1 THEN 'low' ELSE 'normal' END,
       CASE WHEN status = 'scheduled' THEN $8::timestamptz - (i % 3600) * interval '1 s'
            WHEN h % 10 = 0 THEN at + interval '1 hour' END,
       CASE WHEN status IN ('scheduled', 'queued') THEN 0 ELSE 1 + h % 3 END,
       2 + h % 3,
       CASE WHEN status = 'processing' THEN 'bench-worker' END,
       CASE WHEN status = 'processing' THEN $8::timestamptz - interval '1 hour' END,
       CASE WHEN status = 'retrying' THEN $8::timestamptz - interval '1 hour' END,
       CASE WHEN status = 'succeeded' THEN 'post-' || i END,
       CASE WHEN status = 'failed' THEN 'http_422' WHEN status = 'missed' THEN 'missed_slot' END,
       CASE WHEN status <> 'scheduled' THEN at END,
       CASE WHEN status <> 'scheduled' THEN {{requested_at}} END,
       0,
       CASE WHEN status IN ('succeeded', 'failed', 'cancelled', 'missed')
            THEN at + interval '2 s' END,
       at, at
  FROM (SELECT i, a, c, t, h, $5::timestamptz - a * $6::interval AS at, {{state}} AS status
          FROM (SELECT i, i / {CHANNELS_PER_TENANT} AS a, i % {CHANNELS_PER_TENANT} AS c,
                       (i * 2654435761) % 1000 AS h
                  FROM generate_series($1::bigint, $2::bigint - 1) i) s,
               LATERAL (SELECT {_TENANT_OF} AS t) tt
       ) x
"""  # noqa: S608 - built from this module's constants

# The mix of an installation's history: the newest jobs in flight, the rest finished.
AGED = f"""CASE
  WHEN i < {IN_FLIGHT} THEN (CASE WHEN h < 500 THEN 'scheduled' WHEN h < 800 THEN 'queued'
                                 WHEN h < 900 THEN 'processing' ELSE 'retrying' END)
  WHEN h < 900 THEN 'succeeded' WHEN h < 960 THEN 'failed' WHEN h < 990 THEN 'cancelled'
  ELSE 'missed' END"""
# Left behind by an outage: lost requests, dead workers, lost redeliveries, crashed calls.
STALE = """CASE WHEN h < 400 THEN 'queued' WHEN h < 700 THEN 'processing'
                WHEN h < 900 THEN 'retrying' ELSE 'uncertain' END"""


@dataclass(frozen=True)
class Layout:
    """The tenants and channels rows are spread over; ``at`` is the newest asset's time."""

    tenants: list[uuid.UUID]
    channels: list[uuid.UUID]
    at: datetime
    step: timedelta  # between consecutive assets, back in time


async def layout(
    conn: asyncpg.Connection, made: Sequence[uuid.UUID], tenants: int, largest: int
) -> Layout:
    """``tenants`` tenants (``made`` first: ours, then a typical one) and their channels;
    times for ``largest`` rows. Tenant 0 has 10% of the jobs, every other 90% / (tenants-1)."""
    others = tenants - len(made)
    rows = await conn.fetch(
        "INSERT INTO tenants (id, name) SELECT gen_random_uuid(), 'bench-' || g "
        "FROM generate_series(1, $1) g RETURNING id",
        others,
    )
    ids = [*made, *(r["id"] for r in rows)]
    channels = [uuid.uuid4() for _ in range(len(ids) * CHANNELS_PER_TENANT)]
    await conn.copy_records_to_table(
        "channels",
        records=[
            (
                channels[t * CHANNELS_PER_TENANT + c],
                tenant,
                PLATFORMS[c % len(PLATFORMS)],
                f"bench {c}",
            )
            for t, tenant in enumerate(ids)
            for c in range(CHANNELS_PER_TENANT)
        ],
        columns=["id", "tenant_id", "platform", "name"],
    )
    assets = -(-largest // CHANNELS_PER_TENANT)
    return Layout(ids, channels, datetime.now(UTC), SPAN / max(1, assets))


async def grow(
    conn: asyncpg.Connection,
    where: Layout,
    start: int,
    stop: int,
    state: str = AGED,
    requested_at: str = "at",
) -> None:
    """Jobs ``start`` … ``stop - 1`` (and their assets), ``BATCH`` rows per statement."""
    await conn.execute("SET session_replication_role = replica")  # no FK triggers: see above
    jobs = INSERT_JOBS.format(state=state, requested_at=requested_at)
    try:
        for low in range(start, stop, BATCH):
            high = min(stop, low + BATCH)
            first = -(-low // CHANNELS_PER_TENANT)  # assets not inserted by an earlier batch
            last = -(-high // CHANNELS_PER_TENANT)
            common = (where.tenants, where.channels, where.at, where.step)
            async with conn.transaction():
                await conn.execute(INSERT_ASSETS, first, last, *common)
                await conn.execute(jobs, low, high, *common, list(PLATFORMS), where.at)
    finally:
        await conn.execute("RESET session_replication_role")
    await conn.execute("VACUUM (ANALYZE) assets, publish_jobs")  # what autovacuum would do
    await conn.execute("CHECKPOINT")  # not while measuring: the seeding's dirty pages, written


# Service processes --------------------------------------------------------------------------


class _Log:
    """A service's output, appended to a file; its forwarding thread may outlive the process."""

    def __init__(self, path: Path):
        self._file: IO[str] | None = path.open("a", buffering=1)
        self._lock = threading.Lock()

    def write(self, service: str, line: str) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(f"{service} | {line}\n")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


@contextlib.asynccontextmanager
async def service(
    env: BenchEnv,
    name: str,
    module: str,
    database_url: str,
    nats_url: str,
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[ServiceProcess]:
    """One Herald service as a real process, ready; stopped (SIGTERM) on the way out."""
    port = free_port()
    base = {
        **shared_env(Ports(sandbox=env.sandbox_port), database_url, nats_url, OPERATOR_TOKEN),
        **(settings or {}),
    }
    log = _Log(env.home / f"scale-{name}.log")
    fleet = Fleet(
        [ServiceSpec(name, module, port, {"HERALD_HTTP_PORT": str(port)})], log.write, base
    )
    fleet.start()
    try:
        await asyncio.to_thread(fleet.wait_ready, 90)
        yield fleet[name]
    finally:
        await asyncio.to_thread(fleet.stop)
        log.close()


@contextlib.asynccontextmanager
async def private_nats(env: BenchEnv) -> AsyncIterator[NatsServer]:
    """A nats-server of our own (default fsync), its store deleted afterwards."""
    server = NatsServer(env.home / f"nats-scale-{uuid.uuid4().hex[:8]}", sync_always=False)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(server.data_dir, ignore_errors=True)


async def stream_messages(url: str, stream: str) -> int:
    client = await nats.connect(url)
    try:
        info = await client.jetstream().stream_info(stream)
        return int(info.state.messages)
    finally:
        await client.close()


# GET /v1/jobs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """A tenant reading its jobs through the API; ``prefix`` names its figures."""

    client: httpx.AsyncClient
    key: str
    prefix: str

    async def get(self, params: Mapping[str, Any]) -> tuple[float, Any]:
        started = time.perf_counter()
        response = await self.client.get(
            "/v1/jobs", params=params, headers={"Authorization": f"Bearer {self.key}"}
        )
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        return elapsed, response.json()

    async def deep_cursor(self) -> tuple[str | None, int]:
        """The cursor of page ``DEEP_PAGES`` (or of the last page there is) and its number."""
        cursor: str | None = None
        depth = 1
        while depth < DEEP_PAGES:
            _, body = await self.get({"limit": 50, **({"cursor": cursor} if cursor else {})})
            if body["next_cursor"] is None:
                break
            cursor, depth = body["next_cursor"], depth + 1
        return cursor, depth

    async def check_filters(self) -> None:
        for where in FILTERS.values():
            _, body = await self.get({"limit": 50, **where})
            for item in body["items"]:
                if any(item[name] != value for name, value in where.items()):
                    raise AssertionError(f"the page filtered by {where} holds {item}")

    async def pages(self, tag: str, pages: int) -> dict[str, float]:
        """First, deep and filtered page latencies at the table's current size: ``pages``
        requests of each, taken in turn (drift hits every kind alike), after a warm-up."""
        await self.check_filters()
        cursor, depth = await self.deep_cursor()
        kinds: dict[str, dict[str, Any]] = {
            "": {"limit": 50},
            "_deep": {"limit": 50, **({"cursor": cursor} if cursor else {})},
            **{kind: {"limit": 50, **where} for kind, where in FILTERS.items()},
        }
        for params in kinds.values():
            for _ in range(3):  # connections, plans, caches
                await self.get(params)
        samples: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(pages):
            for kind, params in kinds.items():
                samples[kind].append((await self.get(params))[0])
        results = {f"jobs_page{self.prefix}_deep_depth@{tag}": float(depth)}
        for kind, taken in samples.items():
            results[f"jobs_page{self.prefix}{kind}_ms_p50@{tag}"] = statistics.median(taken)
            results[f"jobs_page{self.prefix}{kind}_ms_p95@{tag}"] = percentile(taken, 95)
        return results


async def _tenant(client: httpx.AsyncClient, name: str) -> tuple[uuid.UUID, str]:
    """A tenant made through the API, and its admin key."""
    created = await client.post(
        "/v1/tenants", json={"name": name}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    created.raise_for_status()
    return uuid.UUID(created.json()["tenant"]["id"]), str(created.json()["api_key"])


async def jobs_page_latency(
    env: BenchEnv,
    sizes: Sequence[int] = (10_000, 1_000_000, 10_000_000),
    pages: int = 50,
) -> dict[str, float]:
    """``GET /v1/jobs`` latency (ms, p50 and p95 over ``pages`` requests) at each table size,
    for "ours" (10% of the jobs: ``jobs_page_…``) and for a typical tenant (0.9%:
    ``jobs_page_small_…``); the rows and the table's size (MB, with its indexes) at each size;
    the ratios of the p50s at the largest size to those at the smallest."""
    sizes = sorted(sizes)
    url = await env.database("scale_jobs")
    results: dict[str, float] = {}
    api_service = service(env, "api", "herald.api", url, env.nats_url("default"))
    async with api_service as api, httpx.AsyncClient(base_url=api.spec.base_url) as client:
        (ours, our_key), (small, small_key) = [await _tenant(client, n) for n in ("ours", "small")]
        readers = (Reader(client, our_key, ""), Reader(client, small_key, "_small"))
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            where = await layout(conn, [ours, small], TENANTS, sizes[-1])
            rows = 0
            for size in sizes:
                started = time.monotonic()
                await grow(conn, where, rows, size)
                rows, tag = size, label(size)
                results[f"jobs_seed_s@{tag}"] = time.monotonic() - started
                count = await conn.fetchval("SELECT count(*) FROM publish_jobs")
                total = await conn.fetchval("SELECT pg_total_relation_size('publish_jobs')")
                results[f"jobs_rows@{tag}"] = float(count)
                results[f"jobs_table_mb@{tag}"] = total / 2**20
                for reader in readers:
                    results.update(await reader.pages(tag, pages))
        finally:
            await conn.close()
    small_tag, big_tag = label(sizes[0]), label(sizes[-1])
    for reader in readers:
        for kind in ("", "_deep", *FILTERS):
            name = f"jobs_page{reader.prefix}{kind}"
            at_big = results[f"{name}_ms_p50@{big_tag}"]
            results[f"{name}_ratio_{big_tag}_vs_{small_tag}"] = (
                at_big / results[f"{name}_ms_p50@{small_tag}"]
            )
    return results


# Recovery: dispatch and sweeps ------------------------------------------------------------


async def _until(
    conn: asyncpg.Connection, pending_sql: str, args: Sequence[Any], max_s: float
) -> tuple[float, bool]:
    """Poll until ``pending_sql`` (an EXISTS) is false or ``max_s`` passed: (elapsed, done)."""
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        if not await conn.fetchval(pending_sql, *args):
            return elapsed, True
        if elapsed > max_s:
            return elapsed, False
        await asyncio.sleep(0.25)


async def _recovery_run(
    env: BenchEnv,
    url: str,
    settings: Mapping[str, str],
    pending_sql: str,
    count_sql: str,
    args: Sequence[Any],
    max_s: float,
) -> tuple[float, bool, int, int]:
    """Run the recovery process until nothing is pending: (seconds, done, pending left, msgs
    in PUBLISH). Seconds count from the process's start (its start-up included)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with private_nats(env) as server:
            started = time.monotonic()
            async with service(env, "recovery", "herald.recovery", url, server.url, settings):
                _, done = await _until(conn, pending_sql, args, max_s)
                elapsed = time.monotonic() - started
                left = int(await conn.fetchval(count_sql, *args))
                await asyncio.sleep(0.5)  # the last batch's fast-path publish
                published = await stream_messages(server.url, "PUBLISH")
    finally:
        await conn.close()
    return elapsed, done, left, published


async def dispatch_rate(
    env: BenchEnv,
    jobs: int = 1_000_000,
    *,
    max_s: float = 300.0,
    database_url: str | None = None,
    settings: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """``jobs`` scheduled jobs, all due, dispatched by the recovery process with its default
    settings (``settings`` adds HERALD_* overrides). Stale-request re-sweeps are pushed out of
    the way (no publisher claims the queued jobs). After ``max_s`` the run stops and the time
    for all is extrapolated from the rate so far (``dispatch_extrapolated`` 1)."""
    url = database_url or await env.database("scale_dispatch")
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        where = await layout(conn, [], 10, jobs)
        await grow(conn, where, 0, jobs, state="'scheduled'")
    finally:
        await conn.close()
    overrides = {"HERALD_QUEUED_STALE_S": "86400", **(settings or {})}
    elapsed, done, left, published = await _recovery_run(
        env,
        url,
        overrides,
        "SELECT EXISTS (SELECT 1 FROM publish_jobs WHERE status = 'scheduled')",
        "SELECT count(*) FROM publish_jobs WHERE status = 'scheduled'",
        (),
        max_s,
    )
    moved = jobs - left
    rate = moved / elapsed
    return {
        "dispatch_jobs": float(jobs),
        "dispatched": float(moved),
        "dispatch_measured_s": elapsed,
        "dispatch_jobs_per_s": rate,
        "dispatch_jobs_s": elapsed if done else jobs / max(rate, 1e-9),
        "dispatch_extrapolated": 0.0 if done else 1.0,
        "dispatch_stream_msgs": float(published),
    }


async def sweep_time(
    env: BenchEnv,
    jobs: int = 100_000,
    *,
    max_s: float = 300.0,
    database_url: str | None = None,
    settings: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """``jobs`` stale jobs (40% queued with a lost request, 30% processing with a dead worker's
    expired lease, 20% retrying long overdue, 10% uncertain), all last requested an hour ago,
    until the recovery process (default sweep policy) has re-requested every one."""
    url = database_url or await env.database("scale_sweep")
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        where = await layout(conn, [], 10, jobs)
        hour_ago = "$8::timestamptz - interval '1 hour'"
        await grow(conn, where, 0, jobs, state=STALE, requested_at=hour_ago)
        since = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    elapsed, done, left, published = await _recovery_run(
        env,
        url,
        settings or {},
        "SELECT EXISTS (SELECT 1 FROM publish_jobs WHERE requested_at < $1)",
        "SELECT count(*) FROM publish_jobs WHERE requested_at < $1",
        (since,),
        max_s,
    )
    swept = jobs - left
    rate = swept / elapsed
    return {
        "sweep_jobs": float(jobs),
        "swept": float(swept),
        "sweep_measured_s": elapsed,
        "sweep_jobs_per_s": rate,
        "sweep_s": elapsed if done else jobs / max(rate, 1e-9),
        "sweep_extrapolated": 0.0 if done else 1.0,
        "sweep_stream_msgs": float(published),
    }
