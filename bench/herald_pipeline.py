"""Herald end to end through its real processes: HTTP approve → job recorded → sandbox post →
result recorded → event acked. The API, two publishers (the production layout: one per core,
so that one process's waits on PostgreSQL and JetStream overlap the other's work), the
alerter and the recovery service run as in production (their own processes, INFO logs,
durable JetStream); the sandbox answers at once and the channels' rate limits are lifted, so
the pipeline is what is measured.

Assets are written straight into the database before the clock starts (uploading content is
not the path under test); tenant and channels are created through the API. Latency is read
from the moment the load generator sent the approval (its wall clock, on the same machine as
the server's) to the job's ``finished_at``: an approval that waited for a connection or for
the API counts its wait, as it would for a client (no coordinated omission). The open-loop
figures also say the approval rate achieved, which falls short of the offered rate when the
API cannot keep up."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import httpx

from bench.cost import CpuMeter, peak_rss_mb
from bench.environment import BenchEnv, Fsync, asyncpg_dsn
from bench.lean_http import LeanClient
from bench.load import INTENDED, open_loop, saturate, until_completed
from bench.stats import latency_summary
from herald.cli.fleet import Fleet, ServiceSpec
from herald.cli.infra.ports import free_port
from herald.cli.installation import Ports, service_specs, shared_env
from herald.common.ids import new_id

OPERATOR_TOKEN = "bench-operator-token"  # noqa: S105
CHANNELS = 20
APPROVERS = 32  # concurrent HTTP clients when saturating
CONNECTIONS = APPROVERS * 2  # the open loop's approvals in flight; the rest wait their turn
UNLIMITED = {"per_period": 1_000_000, "period_s": 1, "burst": 1_000_000}
TUNING = {
    "HERALD_TENANT_CONCURRENCY": "0",  # one tenant here; the cap is a fairness policy
    "HERALD_LOG_LEVEL": "INFO",
}
LIMITS_ON = {  # the production checks, set never to bind: what they cost, not what they refuse
    "HERALD_TENANT_CONCURRENCY": "1000",  # on by default (10): an advisory lock and a count
    "HERALD_API_RATE_LIMIT_PER_S": "1000000",  # compose and k8s: 50/s per key
    "HERALD_API_RATE_LIMIT_BURST": "1000000",
}
SUCCEEDED = "SELECT count(*) FROM publish_jobs WHERE status = 'succeeded'"
FINISHED = """
SELECT j.asset_id::text, extract(epoch FROM j.finished_at), extract(epoch FROM a.approved_at)
  FROM publish_jobs j JOIN assets a ON a.id = j.asset_id WHERE j.status = 'succeeded'
"""


def tuning(*, limits_on: bool) -> dict[str, str]:
    """The settings the bench gives the fleet beyond an installation's own (pure). Without
    ``limits_on``, the tenant cap and the per-key request budget are off: one tenant and one
    key approve everything, and the pipeline is what is measured; with it, both are on and
    set never to refuse, so their cost is measured."""
    return {**TUNING, **(LIMITS_ON if limits_on else {})}


@contextmanager
def fleet(
    env: BenchEnv, database_url: str, fsync: Fsync, publishers: int, *, limits_on: bool = False
) -> Iterator[Fleet]:
    ports = Ports(
        api=free_port(),
        publisher=free_port(),
        alerter=free_port(),
        recovery=free_port(),
        sandbox=env.sandbox_port,
    )
    specs = [spec for spec in service_specs(ports) if spec.name != "sandbox"]
    for n in range(2, publishers + 1):
        port = free_port()
        specs.append(
            ServiceSpec(f"publisher-{n}", "herald.publisher", port, {"HERALD_HTTP_PORT": str(port)})
        )
    # each service writes its own log there: forwarded line by line through this process,
    # the fleet's INFO logs cost the load generator a sixth of its CPU, on the cores measured
    logs = env.home / f"herald-{time.monotonic_ns()}"
    logs.mkdir()
    log = (logs / "supervisor.log").open("a", buffering=1)

    def sink(name: str, line: str) -> None:
        log.write(f"{name:>11} | {line}\n")

    variables = {
        **shared_env(ports, database_url, env.nats_url(fsync), OPERATOR_TOKEN),
        **tuning(limits_on=limits_on),
    }
    running = Fleet(specs, sink, variables, log_dir=logs)
    running.start()
    try:
        running.wait_ready(timeout=90)
        yield running
    finally:
        running.stop()
        log.close()


def api_url(running: Fleet) -> str:
    return running["api"].spec.base_url


async def _tenant(api: httpx.AsyncClient) -> tuple[uuid.UUID, dict[str, str], list[uuid.UUID]]:
    created = await api.post(
        "/v1/tenants",
        json={"name": "bench"},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    created.raise_for_status()
    body = created.json()
    auth = {"Authorization": f"Bearer {body['api_key']}"}
    channels = []
    for n in range(CHANNELS):
        response = await api.post(
            "/v1/channels",
            headers=auth,
            json={
                "platform": "sandbox",
                "name": f"bench-{n}",
                "config": {"account": f"bench-herald-{n}", "rate_limit": UNLIMITED},
                "credentials": {"token": "bench-token"},
            },
        )
        response.raise_for_status()
        channels.append(uuid.UUID(response.json()["id"]))
    return uuid.UUID(body["tenant"]["id"]), auth, channels


async def _assets(dsn: str, tenant: uuid.UUID, channels: list[uuid.UUID], n: int) -> list[str]:
    ids = [new_id() for _ in range(n)]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "assets",
            records=[
                (a, tenant, f"bench {i}", "b", [channels[i % len(channels)]], "draft")
                for i, a in enumerate(ids)
            ],
            columns=["id", "tenant_id", "title", "body", "channel_ids", "status"],
        )
    finally:
        await conn.close()
    return [str(a) for a in ids]


async def run(
    env: BenchEnv,
    *,
    fsync: Fsync = "always",
    seconds: float = 10.0,
    rate_per_s: float | None = None,
    publishers: int = 2,
    backlog_cap: int = 2000,
    idle_seconds: float = 0.0,
    limits_on: bool = False,
) -> dict[str, float]:
    """Saturated (``rate_per_s`` None: ``APPROVERS`` clients approve as fast as the API
    answers, the backlog capped) or open loop at ``rate_per_s``, for ``seconds``; the figures
    once every job approved has succeeded. With ``idle_seconds``, first the fleet's CPU while
    it has nothing to do (its polling loops), per second: below a few jobs per second, that
    is most of a job's cost. With ``limits_on``, the tenant cap and the per-key request
    budget are on, as an installation has them, set never to refuse (``tuning``)."""
    url = await env.database("herald")
    dsn = asyncpg_dsn(url)
    with fleet(env, url, fsync, publishers, limits_on=limits_on) as running:
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=APPROVERS)
        async with httpx.AsyncClient(base_url=api_url(running), timeout=60, limits=limits) as api:
            tenant, auth, channels = await _tenant(api)
            pids = {name: p.pid for name, p in running.processes.items() if p.pid is not None}
            idle = await _idle_cpu(
                CpuMeter({**pids, **env.infrastructure_pids(fsync)}), idle_seconds
            )
            ceiling = rate_per_s or 2000.0  # jobs/s no run here comes near
            planned = int(ceiling * (seconds + 2) * 1.1) + backlog_cap
            approvals = LeanClient(api_url(running), auth, CONNECTIONS)
            approver = _Approver(approvals, await _assets(dsn, tenant, channels, planned))
            meter = CpuMeter({**pids, **env.infrastructure_pids(fsync)})
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)

            async def completed() -> int:
                return int(await pool.fetchval(SUCCEEDED))

            try:
                meter.start()
                started = time.monotonic()
                if rate_per_s is None:
                    window = await saturate(
                        approver.one,
                        completed,
                        seconds=seconds,
                        clients=APPROVERS,
                        backlog_cap=backlog_cap,
                    )
                    throughput = window.throughput
                else:
                    await open_loop(approver.one, per_s=rate_per_s, seconds=seconds)
                    throughput = 0.0
                finished_jobs = await until_completed(
                    completed, approver.approved, within_s=120 + seconds
                )
                elapsed = time.monotonic() - started
                throughput = throughput or finished_jobs / elapsed
                cpu = meter.stop()
                finished = await pool.fetch(FINISHED)
            finally:
                await pool.close()
                await approvals.aclose()
            rss = {name: peak_rss_mb(pid) for name, pid in pids.items()}
    jobs = approver.approved
    return {
        "jobs": float(jobs),
        "jobs_unfinished": float(jobs - finished_jobs),
        "seconds": elapsed,
        "throughput_jobs_s": throughput,
        **latency_summary(
            [(float(done) - approver.sent_at[asset]) * 1000 for asset, done, _ in finished]
        ),
        "approvals_per_s": _rate([float(approved) for _, _, approved in finished]),
        "cpu_ms_per_job": sum(cpu.values()) * 1000 / max(1, jobs),
        **{f"cpu_ms_per_job_{name}": s * 1000 / max(1, jobs) for name, s in cpu.items()},
        **{f"peak_rss_mb_{name}": mb for name, mb in rss.items()},
        "approve_errors": float(approver.errors),
        **idle,
    }


IDLE_SETTLE_S = 2.0  # the set-up's requests done, their outbox rows sent and marked


async def _idle_cpu(meter: CpuMeter, seconds: float) -> dict[str, float]:
    """CPU per second of every process while the fleet waits for work; empty for 0 s."""
    if seconds <= 0:
        return {}
    await asyncio.sleep(IDLE_SETTLE_S)
    meter.start()
    await asyncio.sleep(seconds)
    cpu = meter.stop()
    return {
        "idle_cpu_ms_per_s": sum(cpu.values()) * 1000 / seconds,
        **{f"idle_cpu_ms_per_s_{name}": s * 1000 / seconds for name, s in cpu.items()},
    }


class _Approver:
    def __init__(self, approvals: LeanClient, assets: list[str]) -> None:
        # the client keeps CONNECTIONS connections: approvals past them wait in its FIFO,
        # which costs nothing per waiter (httpx's pool scanned every waiting request on each
        # arrival and each response's end: 22 s of CPU in a 5 s run at 500/s offered)
        self.approvals, self.assets = approvals, iter(assets)
        self.approved = 0
        self.errors = 0
        self.sent_at: dict[str, float] = {}  # asset id → when its approval was sent (epoch s)

    async def one(self) -> int:
        asset = next(self.assets)
        self.sent_at[asset] = INTENDED.get() or time.time()
        status, _ = await self.approvals.post(f"/v1/assets/{asset}/approve")
        if status == 200:
            self.approved += 1
            return 1
        self.errors += 1
        return 0


def _rate(moments: list[float]) -> float:
    """Events per second between the first and the last of ``moments`` (pure)."""
    if len(moments) < 2 or max(moments) == min(moments):
        return 0.0
    return (len(moments) - 1) / (max(moments) - min(moments))
