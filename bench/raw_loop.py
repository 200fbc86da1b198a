"""The raw limit: the same job as Herald's on bare nats-py and asyncpg, no framework, no
outbox, no leases beyond the claim: insert the job → JetStream publish → pull fetch → claim →
POST to the sandbox → attempt + finish → ack. The producer runs in the benchmark process (it
plays the API), the consumer in a process of its own (it plays the publisher).

``per_message``: one job per insert, publish and fetch, 16 jobs in flight.
``batched``: 100 inserts per transaction, their publishes concurrent, fetches of 100.

    python -m bench.raw_loop consume --dsn … --nats … --sandbox … --mode per_message
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from typing import Literal

import asyncpg
import httpx
import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from bench.cost import CpuMeter, peak_rss_mb
from bench.environment import BenchEnv, Fsync, asyncpg_dsn
from bench.job_rows import (
    CLAIM_JOB,
    FINISH_JOB,
    FINISHED,
    INSERT_ATTEMPT,
    INSERT_JOB,
    SUCCEEDED,
    Seed,
    post_headers,
    seed,
)
from bench.load import INTENDED, open_loop, saturate, until_completed
from bench.stats import latency_summary
from herald.common.ids import new_id

Mode = Literal["per_message", "batched"]
STREAM, SUBJECT, DURABLE = "RAWBENCH", "rawbench.jobs", "rawbench"
BATCH = 100
CONSUMERS = 16


async def _stream(js: JetStreamContext) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(STREAM)
    await js.add_stream(StreamConfig(name=STREAM, subjects=[SUBJECT], storage=StorageType.FILE))
    await js.add_consumer(
        STREAM,
        ConsumerConfig(
            durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_ack_pending=1000
        ),
    )


# --- the consumer process ------------------------------------------------------------------


async def consume(dsn: str, nats_url: str, sandbox: str, mode: Mode, account: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10)
    client = await nats.connect(nats_url)
    js = client.jetstream()
    sub = await js.pull_subscribe_bind(DURABLE, STREAM)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    worker = f"raw:{os.getpid()}"
    body = {"account": account, "body": "bench\n\nb", "media": []}
    limits = httpx.Limits(max_connections=BATCH, max_keepalive_connections=BATCH)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def job(job_id: uuid.UUID) -> None:
            async with pool.acquire() as conn:
                claimed = await conn.fetchrow(CLAIM_JOB, job_id, worker)
            if claimed is None:  # a redelivery of a job already done
                return
            tenant_id, number, version = claimed
            started = time.time()
            response = await http.post(f"{sandbox}/posts", json=body, headers=post_headers(job_id))
            response.raise_for_status()
            external_id = str(response.json()["id"])
            duration_ms = (time.time() - started) * 1000
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    INSERT_ATTEMPT,
                    new_id(),
                    tenant_id,
                    job_id,
                    number,
                    worker,
                    version,
                    _utc(started),
                    duration_ms,
                    external_id,
                )
                await conn.execute(FINISH_JOB, job_id, version, external_id)

        async def settle(msg: Msg) -> None:
            try:
                await job(uuid.UUID(bytes=msg.data))
            except (httpx.HTTPError, OSError, asyncpg.PostgresError):
                await msg.nak(delay=0.5)  # redelivered, as any consumer would have it
                return
            await msg.ack()

        async def one_at_a_time() -> None:
            """Fetch one message at a time; up to CONSUMERS of them in flight."""
            slots = asyncio.Semaphore(CONSUMERS)
            tasks: set[asyncio.Task[None]] = set()
            while not stop.is_set():
                await slots.acquire()
                try:
                    (msg,) = await sub.fetch(1, timeout=1)
                except (nats.errors.TimeoutError, TimeoutError):
                    slots.release()
                    continue
                task = asyncio.create_task(settle(msg))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(lambda _: slots.release())
            await asyncio.gather(*tasks)

        async def in_batches() -> None:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(BATCH, timeout=0.05)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                await asyncio.gather(*(settle(m) for m in msgs))

        loops = [one_at_a_time()] if mode == "per_message" else [in_batches()]
        print("ready", flush=True)
        await asyncio.gather(*loops)
    await client.drain()
    await pool.close()


def _utc(epoch: float) -> object:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


# --- the producer, in the benchmark process ------------------------------------------------


class Producer:
    def __init__(self, pool: asyncpg.Pool, js: JetStreamContext, job_seed: Seed) -> None:
        self.pool, self.js, self.seed = pool, js, job_seed
        self.next_asset = 0
        self.sent_at: dict[str, float] = {}  # job id → when it was offered (epoch s)

    def _assets(self, count: int) -> list[uuid.UUID]:
        taken = self.seed.asset_ids[self.next_asset : self.next_asset + count]
        self.next_asset += len(taken)
        if len(taken) < count:
            raise RuntimeError("the benchmark seeded too few assets")
        return taken

    async def one(self) -> None:
        (asset,) = self._assets(1)
        job_id = new_id()
        self.sent_at[str(job_id)] = INTENDED.get() or time.time()
        async with self.pool.acquire() as conn:
            await conn.execute(INSERT_JOB, job_id, self.seed.tenant_id, asset, self.seed.channel_id)
        await self.js.publish(SUBJECT, job_id.bytes)

    async def batch(self, count: int) -> None:
        ids = [(new_id(), asset) for asset in self._assets(count)]
        offered_at = INTENDED.get() or time.time()
        self.sent_at.update((str(j), offered_at) for j, _ in ids)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                INSERT_JOB,
                [(j, self.seed.tenant_id, a, self.seed.channel_id) for j, a in ids],
            )
        await asyncio.gather(*(self.js.publish(SUBJECT, j.bytes) for j, _ in ids))


async def run(
    env: BenchEnv,
    mode: Mode,
    *,
    fsync: Fsync = "always",
    seconds: float = 10.0,
    rate_per_s: float | None = None,
    backlog_cap: int = 2000,
) -> dict[str, float]:
    """Saturated (``rate_per_s`` None) or open loop at ``rate_per_s`` for ``seconds``; the
    figures once every job offered has finished."""
    url = await env.database("raw")
    dsn = asyncpg_dsn(url)
    ceiling = rate_per_s or 5000.0  # jobs/s no run here comes near; assets to draw from
    job_seed = await seed(dsn, int(ceiling * (seconds + 2) * 1.1) + backlog_cap + BATCH)
    client = await nats.connect(env.nats_url(fsync))
    js = client.jetstream()
    await _stream(js)
    consumer = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.raw_loop", "consume", "--dsn", dsn,
        "--nats", env.nats_url(fsync), "--sandbox", env.sandbox_url, "--mode", mode,
        "--account", job_seed.account, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert consumer.stdout is not None
    await asyncio.wait_for(consumer.stdout.readline(), 30)
    pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10)
    producer = Producer(pool, js, job_seed)
    pids = {"consumer": consumer.pid, "producer": os.getpid(), **env.infrastructure_pids(fsync)}
    meter = CpuMeter(pids, alone=frozenset({"producer"}))  # its children are counted apart

    counter = await asyncpg.connect(dsn)  # its own: the producers keep the pool busy

    async def completed() -> int:
        return int(await counter.fetchval(SUCCEEDED))

    async def submit() -> int:
        if mode == "batched":
            await producer.batch(BATCH)
            return BATCH
        await producer.one()
        return 1

    try:
        meter.start()
        started = time.monotonic()
        if rate_per_s is None:
            clients = 4 if mode == "batched" else 16
            window = await saturate(
                submit, completed, seconds=seconds, clients=clients, backlog_cap=backlog_cap
            )
            offered, throughput = window.offered, window.throughput
        else:
            batch = BATCH if mode == "batched" else 1
            offered = await open_loop(submit, per_s=rate_per_s, seconds=seconds, batch=batch)
            throughput = 0.0
        finished_jobs = await until_completed(completed, offered, within_s=120 + seconds)
        elapsed = time.monotonic() - started
        throughput = throughput or finished_jobs / elapsed
        cpu = meter.stop()
        latencies = [
            (float(done) - producer.sent_at[job]) * 1000 for job, done in await pool.fetch(FINISHED)
        ]
    finally:
        rss = peak_rss_mb(consumer.pid)
        await _stop(consumer)
        await counter.close()
        await pool.close()
        await client.close()
    return {
        "jobs": float(offered),
        "jobs_unfinished": float(offered - finished_jobs),
        "seconds": elapsed,
        "throughput_jobs_s": throughput,
        **latency_summary(latencies),
        "cpu_ms_per_job": sum(cpu.values()) * 1000 / max(1, offered),
        **{f"cpu_ms_per_job_{name}": v * 1000 / max(1, offered) for name, v in cpu.items()},
        "peak_rss_mb_consumer": rss,
    }


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.raw_loop")
    parser.add_argument("role", choices=["consume"])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--sandbox", required=True)
    parser.add_argument("--mode", choices=["per_message", "batched"], required=True)
    parser.add_argument("--account", required=True)
    args = parser.parse_args()
    asyncio.run(consume(args.dsn, args.nats, args.sandbox, args.mode, args.account))


if __name__ == "__main__":
    main()
