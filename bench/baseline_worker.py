"""What the Celery and dramatiq baselines share: the job as their workers run it, and the harness
that starts those workers, feeds them and measures them.

Worker side. Neither framework's workers are asyncio programs, and psycopg is not installed, so
each worker process keeps one asyncio event loop (dramatiq: its ``AsyncIO`` middleware's loop
thread, for an ``async def`` actor; Celery: a :class:`LoopThread` of our own) holding an asyncpg
pool and an ``httpx.AsyncClient``; a task thread hands the job to that loop and waits for it,
the usual async-to-sync bridge. The job is :func:`publish`: the statements of
:mod:`bench.job_rows`, in Herald's transactions (the claim; the sandbox call, connection
released; the attempt row and the finished job in one transaction).

Harness side. A :class:`Baseline` says how to start its workers, send a job, send a readiness
ping and clean its queues up; :func:`saturate` and :func:`open_loop` do the rest: a fresh
database, seeded assets, the workers as OS processes, the producer in this process (each job: its
``publish_jobs`` row committed, then the message), and the figures.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
import httpx
import psutil

from bench.cost import cpu_seconds, peak_rss_mb
from bench.job_rows import (
    CLAIM_JOB,
    FINISH_JOB,
    INSERT_ATTEMPT,
    INSERT_JOB,
    LATENCIES_MS,
    SUCCEEDED,
    Seed,
    post_body,
    post_headers,
    seed,
)
from bench.stats import latency_summary
from herald.common.ids import new_id

if TYPE_CHECKING:  # the workers import this module: not the harness's environment (alembic...)
    from bench.environment import BenchEnv

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------
# Worker side: one JobContext per worker process, on that process's event loop.

ENV_DSN = "HERALD_BENCH_DSN"
ENV_SANDBOX = "HERALD_BENCH_SANDBOX_URL"
ENV_BODY = "HERALD_BENCH_POST_BODY"
ENV_POOL = "HERALD_BENCH_POOL_SIZE"
ENV_BROKER = "HERALD_BENCH_BROKER_URL"
ENV_QUEUE = "HERALD_BENCH_QUEUE"
ENV_PREFETCH = "HERALD_BENCH_PREFETCH"


@dataclass
class JobContext:
    """A worker process's connections: an asyncpg pool and an HTTP client for the sandbox."""

    pool: asyncpg.Pool
    client: httpx.AsyncClient
    body: dict[str, object]
    worker: str

    @classmethod
    async def open(cls) -> JobContext:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a log line per job
        size = int(os.environ.get(ENV_POOL, "8"))
        pool = await asyncpg.create_pool(os.environ[ENV_DSN], min_size=size, max_size=size)
        client = httpx.AsyncClient(
            base_url=os.environ[ENV_SANDBOX],
            timeout=10.0,
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
        )
        body = json.loads(os.environ[ENV_BODY])  # post_body(seed), from the harness
        return cls(pool, client, body, f"{socket.gethostname()}:{os.getpid()}")

    async def publish(self, job_id: uuid.UUID) -> None:
        started, clock = datetime.now(UTC), time.perf_counter()
        async with self.pool.acquire() as conn:
            claimed = await conn.fetchrow(CLAIM_JOB, job_id, self.worker)
        if claimed is None:  # not queued any more: a redelivery of a job already done
            return
        response = await self.client.post("/posts", json=self.body, headers=post_headers(job_id))
        response.raise_for_status()
        external_id = str(response.json()["id"])
        duration_ms = (time.perf_counter() - clock) * 1000
        version = claimed["version"]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                INSERT_ATTEMPT, new_id(), claimed["tenant_id"], job_id, claimed["attempts"],
                self.worker, version, started, duration_ms, external_id,
            )  # fmt: skip
            await conn.execute(FINISH_JOB, job_id, version, external_id)

    async def ping(self, path: str) -> None:
        """Readiness: the database and the sandbox answer; one line appended to ``path``."""
        async with self.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        (await self.client.get("/healthz")).raise_for_status()
        _append_line(path, f"{os.getpid()} {threading.get_ident()}")


def _append_line(path: str, line: str) -> None:
    with open(path, "a") as out:
        out.write(line + "\n")


_contexts: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Task[JobContext]]] = {}


async def context() -> JobContext:
    """This process's JobContext, opened on first use on the running loop (one per process)."""
    loop = asyncio.get_running_loop()
    entry = _contexts.get(os.getpid())
    if entry is None or entry[0] is not loop:
        entry = (loop, loop.create_task(JobContext.open()))
        _contexts[os.getpid()] = entry
    return await asyncio.shield(entry[1])


async def publish(job_id: str) -> None:
    """The job, as both frameworks' tasks run it."""
    await (await context()).publish(uuid.UUID(job_id))


async def ping(path: str) -> None:
    await (await context()).ping(path)


class LoopThread:
    """An event loop on a daemon thread; :meth:`run` runs a coroutine there and waits for it.
    Created lazily per process (:func:`loop_thread`), so a forked pool child gets its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


_loop_threads: dict[int, LoopThread] = {}
_loop_lock = threading.Lock()


def loop_thread() -> LoopThread:
    with _loop_lock:
        found = _loop_threads.get(os.getpid())
        if found is None:
            found = _loop_threads[os.getpid()] = LoopThread()
        return found


# ---------------------------------------------------------------------------------------------
# Harness side, in the benchmark process.

REPO = Path(__file__).resolve().parents[1]
BROKERS = {
    # kind: (title, env var overriding the URL, default URL)
    "redis": ("Redis", "HERALD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "rabbitmq": ("RabbitMQ", "HERALD_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
}


@dataclass(frozen=True)
class Broker:
    kind: str  # "redis" | "rabbitmq"
    title: str
    url: str
    host: str
    port: int


def resolve_broker(kind: str, framework: str) -> Broker:
    """The broker's URL (env override or the machine's default); :class:`Skip` if nothing
    listens there."""
    from bench.environment import Skip

    if kind not in BROKERS:
        raise ValueError(f"broker must be one of {sorted(BROKERS)}, got {kind!r}")
    title, variable, default = BROKERS[kind]
    url = os.environ.get(variable) or default
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (6379 if kind == "redis" else 5672)
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError:
        raise Skip(
            f"{title} at {host}:{port} is not running: the {framework} baseline is skipped"
            f" (set {variable} to use another)"
        ) from None
    return Broker(kind, title, url, host, port)


def unique_prefix(name: str) -> str:
    return f"herald-bench-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Baseline(abc.ABC):
    """One framework on one broker, for one run: its queue is ``prefix``."""

    name: str  # "celery", also the database prefix
    title: str  # "Celery"

    def __init__(self, broker: Broker, concurrency: int) -> None:
        self.broker = broker
        self.concurrency = concurrency
        self.prefix = unique_prefix(self.name)

    @property
    @abc.abstractmethod
    def slots(self) -> int:
        """Jobs the workers run at once, all processes together."""

    @property
    @abc.abstractmethod
    def consumers(self) -> int:
        """Processes that run jobs (each must answer a ping before the measurement starts)."""

    @abc.abstractmethod
    def commands(self) -> list[tuple[list[str], dict[str, str]]]:
        """The worker processes to start: argv and extra environment of each."""

    @abc.abstractmethod
    def send(self, job_id: str) -> None:
        """Enqueue the job message (synchronous, as both frameworks' producers are)."""

    @abc.abstractmethod
    def send_ping(self, path: str) -> None: ...

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Delete the run's queues and keys from the broker; close producer connections."""

    def describe(self) -> str:
        return f"{self.title} on {self.broker.title}"


@dataclass
class Workers:
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start(self, baseline: Baseline, environ: dict[str, str], logs: Path) -> None:
        for n, (argv, extra) in enumerate(baseline.commands()):
            log = logs / f"{baseline.prefix}-{n}.log"
            with log.open("ab") as out:  # the child keeps its own copy
                self.processes.append(
                    subprocess.Popen(
                        argv,
                        cwd=REPO,
                        env={**environ, **extra},
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            self.logs.append(log)

    def family(self) -> list[int]:
        pids: list[int] = []
        for proc in self.processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                pids += [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(True))]
        return pids

    def peak_rss_mb(self) -> float:
        return max((peak_rss_mb(pid) for pid in self.family()), default=0.0)

    def check_alive(self) -> None:
        for proc, log in zip(self.processes, self.logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"a worker exited with {proc.returncode}:\n{_tail(log)}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (both frameworks' warm shutdown: finish the jobs in hand), then SIGKILL."""
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(psutil.NoSuchProcess):
                    for child in psutil.Process(proc.pid).children(True):
                        with contextlib.suppress(psutil.NoSuchProcess):
                            child.kill()
                proc.kill()
                proc.wait(5)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def listener_pid(port: int) -> int | None:
    """The pid of the local process listening on ``port`` (the broker), if the kernel says."""
    with contextlib.suppress(psutil.AccessDenied, OSError):
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                pid: int | None = conn.pid
                return pid
    return None


def postmaster_pid(env: BenchEnv) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((env.postgres.data_dir / "postmaster.pid").read_text().splitlines()[0])
    return None


@dataclass
class Meter:
    """CPU of every process that works on a job: workers (with their pool children), the
    broker, PostgreSQL (postmaster and backends), the sandbox, and this process (itself only:
    its children are the workers, the sandbox and the nats-servers)."""

    families: dict[str, list[int]]
    notes: list[str]
    _start: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, env: BenchEnv, baseline: Baseline, workers: Workers) -> Meter:
        families: dict[str, list[int]] = {"worker": [p.pid for p in workers.processes]}
        notes: list[str] = []
        local = baseline.broker.host in ("127.0.0.1", "localhost", "::1")
        broker = listener_pid(baseline.broker.port) if local else None
        if broker is not None:
            families["broker"] = [broker]
        else:
            notes.append(f"{baseline.broker.title}'s CPU not included: its pid is not readable")
        postmaster = postmaster_pid(env)
        if postmaster is not None:
            families["postgres"] = [postmaster]
        else:
            notes.append("PostgreSQL's CPU not included: postmaster.pid is not readable")
        if env.sandbox_pid is not None:
            families["sandbox"] = [env.sandbox_pid]
        return cls(families, notes)

    def _read(self) -> dict[str, float]:
        out = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.families.items()}
        own = psutil.Process().cpu_times()
        out["bench"] = own.user + own.system
        return out

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        now = self._read()
        return {name: max(0.0, now[name] - self._start[name]) for name in now}


@dataclass
class Stage:
    """A started baseline: database seeded, workers ready, the producer connected."""

    env: BenchEnv
    baseline: Baseline
    dsn: str
    seed: Seed
    workers: Workers
    producers: list[asyncpg.Connection]
    _next_asset: int = 0

    async def enqueue(self, conn: asyncpg.Connection) -> None:
        """One job: its row committed, then its message sent."""
        asset = self.seed.asset_ids[self._next_asset]
        self._next_asset += 1
        job_id = new_id()
        await conn.execute(INSERT_JOB, job_id, self.seed.tenant_id, asset, self.seed.channel_id)
        self.baseline.send(str(job_id))

    async def wait_succeeded(self, jobs: int, within_s: float) -> None:
        deadline = time.monotonic() + within_s
        conn = self.producers[0]
        while (await conn.fetchval(SUCCEEDED)) < jobs:
            if time.monotonic() > deadline:
                done = await conn.fetchval(SUCCEEDED)
                raise TimeoutError(
                    f"{self.baseline.describe()}: {done} of {jobs} jobs succeeded in {within_s} s;"
                    f" worker logs: {', '.join(map(str, self.workers.logs))}"
                )
            self.workers.check_alive()
            # not faster: each poll counts every row (PostgreSQL CPU charged to the jobs), and
            # the figures come from the rows' own timestamps, not from when the poll saw them
            await asyncio.sleep(0.05)

    async def figures(self, jobs: int) -> dict[str, float]:
        conn = self.producers[0]
        latencies = [float(row[0]) for row in await conn.fetch(LATENCIES_MS)]
        seconds = await conn.fetchval(
            "SELECT extract(epoch FROM max(finished_at) - min(queued_at))::float8"
            " FROM publish_jobs WHERE status = 'succeeded'"
        )
        attempts = await conn.fetchval("SELECT count(*) FROM publish_attempts")
        return {
            "jobs": float(jobs),
            "succeeded": float(await conn.fetchval(SUCCEEDED)),
            "attempts": float(attempts),  # more than jobs: some job was run twice
            "seconds": float(seconds),
            **latency_summary(latencies),  # as every other suite computes its percentiles
        }


PRODUCERS = 8  # concurrent producer connections: one job row committed per INSERT


@contextlib.asynccontextmanager
async def started(env: BenchEnv, baseline: Baseline, assets: int) -> AsyncIterator[Stage]:
    from bench.environment import asyncpg_dsn

    dsn = asyncpg_dsn(await env.database(baseline.name))
    seeded = await seed(dsn, assets)
    ready = env.home / f"{baseline.prefix}.ready"
    worker_env = {
        ENV_DSN: dsn,
        ENV_SANDBOX: env.sandbox_url,
        ENV_BODY: json.dumps(post_body(seeded)),
        ENV_BROKER: baseline.broker.url,
        ENV_QUEUE: baseline.prefix,
    }
    workers = Workers()
    producers: list[asyncpg.Connection] = []
    try:
        await asyncio.to_thread(workers.start, baseline, {**os.environ, **worker_env}, env.home)
        producers = [await asyncpg.connect(dsn) for _ in range(PRODUCERS)]
        await _wait_ready(baseline, workers, ready)
        yield Stage(env, baseline, dsn, seeded, workers, producers)
    finally:
        try:
            for conn in producers:
                await conn.close()
            await asyncio.to_thread(workers.stop)
        finally:
            baseline.cleanup()  # on this thread: the producer's connections were opened here
            ready.unlink(missing_ok=True)


async def _wait_ready(baseline: Baseline, workers: Workers, ready: Path) -> None:
    """Every process that runs jobs has answered a ping (pool open, sandbox reached), and every
    ping sent is answered: none is left to run during the measurement."""
    sent, deadline = 0, time.monotonic() + 60
    while True:
        answered = _read_lines(ready)
        if (
            len(answered) == sent
            and len({line.split()[0] for line in answered if line}) >= baseline.consumers
        ):
            return
        workers.check_alive()
        if time.monotonic() > deadline:
            logs = "\n".join(_tail(log) for log in workers.logs)
            raise RuntimeError(f"{baseline.describe()}: workers not ready in 60 s:\n{logs}")
        if len(answered) == sent:  # all answered, but some process has not had one yet
            for _ in range(baseline.slots):
                baseline.send_ping(str(ready))
            sent += baseline.slots
        await asyncio.sleep(0.05)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def _cost(
    figures: dict[str, float], cpu: dict[str, float], jobs: int, meter: Meter
) -> dict[str, float]:
    for name, seconds in cpu.items():
        figures[f"cpu_ms_per_job_{name}"] = seconds * 1000 / jobs
    figures["cpu_ms_per_job"] = sum(cpu.values()) * 1000 / jobs
    figures["broker_cpu_included"] = 1.0 if "broker" in meter.families else 0.0
    for note in meter.notes:
        print(f"note: {note}", file=sys.stderr)
    return figures


async def saturate(env: BenchEnv, baseline: Baseline, jobs: int) -> dict[str, float]:
    """Closed loop: ``jobs`` jobs enqueued as fast as the producer goes, all done; figures
    from the first enqueue to the last job succeeded."""
    async with started(env, baseline, jobs) as stage:
        meter = Meter.of(env, baseline, stage.workers)
        meter.start()
        remaining = iter(range(jobs))

        async def produce(conn: asyncpg.Connection) -> None:
            for _ in remaining:
                await stage.enqueue(conn)

        await asyncio.gather(*(produce(conn) for conn in stage.producers))
        await stage.wait_succeeded(jobs, within_s=max(120.0, jobs / 10))
        cpu = meter.stop()
        figures = await stage.figures(jobs)
        figures["throughput_jobs_s"] = jobs / figures["seconds"] if figures["seconds"] else 0.0
        figures["peak_rss_mb_worker"] = stage.workers.peak_rss_mb()
        return _cost(figures, cpu, jobs, meter)


async def open_loop(
    env: BenchEnv, baseline: Baseline, rate_per_s: float, seconds: float
) -> dict[str, float]:
    """Open loop: jobs sent at ``rate_per_s`` on the clock's schedule (not on completions) for
    ``seconds``; latency from each job's ``queued_at`` to its ``finished_at``. ``max_lag_ms``
    says how far the producer fell behind its schedule (if much, the figures understate)."""
    jobs = max(1, round(rate_per_s * seconds))
    async with started(env, baseline, jobs) as stage:
        meter = Meter.of(env, baseline, stage.workers)
        idle = asyncio.Queue[asyncpg.Connection]()
        for conn in stage.producers:
            idle.put_nowait(conn)
        lag = 0.0

        async def one() -> None:
            conn = await idle.get()
            try:
                await stage.enqueue(conn)
            finally:
                idle.put_nowait(conn)

        meter.start()
        begin = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        for n in range(jobs):
            delay = begin + n / rate_per_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lag = max(lag, -delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        await stage.wait_succeeded(jobs, within_s=max(120.0, seconds * 4))
        cpu = meter.stop()
        figures = await stage.figures(jobs)
        figures["offered_jobs_s"] = rate_per_s
        figures["achieved_jobs_s"] = jobs / figures["seconds"] if figures["seconds"] else 0.0
        figures["max_lag_ms"] = lag * 1000
        figures["peak_rss_mb_worker"] = stage.workers.peak_rss_mb()
        return _cost(figures, cpu, jobs, meter)
