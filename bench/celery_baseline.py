"""The job on Celery, the way a team that must never lose a job would run it.

Configuration (``make_app`` / :class:`CeleryBaseline`), and why:

- reliability: ``task_acks_late`` (a message is acked once its job is done, not on receipt) with
  ``task_reject_on_worker_lost`` (a job whose pool process dies is redelivered, not acked),
  ``worker_cancel_long_running_tasks_on_connection_loss`` (the jobs in hand when the broker
  connection drops are redelivered anyway: don't finish them twice), durable queues with
  persistent messages (Celery's defaults), and on RabbitMQ publisher confirms
  (``confirm_publish``) so a send returns once the broker has the message. On Redis a job is
  as durable as the machine's Redis persistence makes it (left alone; here, when written:
  ``appendonly no``, ``save ""``: a Redis restart loses the queue, so RabbitMQ is the durable
  comparison); kombu's visibility timeout (1 h) redelivers unacked messages of a dead worker.
  A redelivered job is harmless: the claim only takes a ``queued`` job, and the sandbox call
  carries the job id as Idempotency-Key.
- throughput on 2 cores: the ``threads`` pool, ``concurrency`` (8) threads in each of 2 worker
  processes (:data:`PROCESSES`, one per core: one process is held to one core by the GIL), the
  shape dramatiq gets, so both frameworks run the same async job on the same per-process loop
  and pool and differ only in their machinery. ``worker_prefetch_multiplier`` 4: 32 unacked
  messages per process keep its threads fed between broker round trips, and few come back from a
  dead worker. Measured at 1,000-1,500 jobs on Redis, interleaved, on 2 cores shared with other
  benchmarks (±40 % from run to run): prefork with 4 or 8 children came out level with 2 x 8
  threads within that noise (on the quietest runs 385 and 308 against 364 jobs/s, 4.8-6.2 ms
  CPU per job each), one 8-thread process lower (250), prefork with 2 children lowest (150-170:
  one job per child at a time, waiting on every round trip). Re-check on a quiet machine with
  ``HERALD_BENCH_CELERY_POOL=prefork`` (``concurrency`` children). No gevent or eventlet here.
- no result backend (``task_ignore_result``: the job's row is its result), JSON only,
  ``--without-gossip --without-mingle --without-heartbeat`` and no remote control (no broadcast
  traffic between workers), log level WARNING (Celery logs two INFO lines per task).
- every key (Redis, ``global_keyprefix``) or queue and exchange (RabbitMQ) is named after a
  prefix unique to the run, and deleted afterwards.

The worker processes import this module (``celery -A bench.celery_baseline``) and read the
broker, queue, database and sandbox from the environment the harness gives them; each keeps an
asyncpg pool and an HTTP client on an event loop thread of its own
(:func:`bench.baseline_worker.loop_thread`).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery

from bench import baseline_worker as worker
from bench.baseline_worker import Baseline, Broker, resolve_broker

if TYPE_CHECKING:
    from bench.environment import BenchEnv

PUBLISH = "herald_bench.publish"
PING = "herald_bench.ping"
POOL = "threads"  # "threads" | "prefork": HERALD_BENCH_CELERY_POOL overrides, for experiments
PROCESSES = 2  # worker processes, threads pool (one per core)
PREFETCH = 4  # worker_prefetch_multiplier


def _publish(job_id: str) -> None:
    worker.loop_thread().run(worker.publish(job_id))


def _ping(path: str) -> None:
    worker.loop_thread().run(worker.ping(path))


def make_app(broker_url: str, queue: str, *, prefetch: int = PREFETCH) -> Any:
    """The Celery app of one run: the producer's in the benchmark process, or the workers'."""
    redis_broker = broker_url.startswith(("redis://", "rediss://"))
    app = Celery("herald_bench", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_prefetch_multiplier=prefetch,
        worker_enable_remote_control=False,
        worker_hijack_root_logger=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options=(
            {"global_keyprefix": f"{queue}:"} if redis_broker else {"confirm_publish": True}
        ),
        task_serializer="json",
        accept_content=["json"],
    )
    app.task(name=PUBLISH)(_publish)
    app.task(name=PING)(_ping)
    return app


# The workers' app (celery -A bench.celery_baseline worker): configured from the environment.
app = make_app(
    os.environ.get(worker.ENV_BROKER, "redis://127.0.0.1:6379/0"),
    os.environ.get(worker.ENV_QUEUE, "herald-bench-celery"),
    prefetch=int(os.environ.get(worker.ENV_PREFETCH, str(PREFETCH))),
)


class CeleryBaseline(Baseline):
    name = "celery"
    title = "Celery"

    def __init__(
        self,
        broker: Broker,
        concurrency: int,
        *,
        pool: str | None = None,
        processes: int = PROCESSES,
        prefetch: int = PREFETCH,
    ) -> None:
        super().__init__(broker, concurrency)
        self.pool = pool or os.environ.get("HERALD_BENCH_CELERY_POOL", POOL)
        if self.pool not in ("threads", "prefork"):
            raise ValueError(f"pool must be threads or prefork, got {self.pool!r}")
        self.processes = processes if self.pool == "threads" else 1
        self.prefetch = prefetch
        self.app = make_app(broker.url, self.prefix, prefetch=prefetch)

    @property
    def slots(self) -> int:
        return self.concurrency * self.processes

    @property
    def consumers(self) -> int:
        return self.processes if self.pool == "threads" else self.concurrency

    def commands(self) -> list[tuple[list[str], dict[str, str]]]:
        # prefork: each child runs one job at a time, so one database connection per child
        pool_size = str(self.concurrency if self.pool == "threads" else 1)
        extra = {worker.ENV_POOL: pool_size, worker.ENV_PREFETCH: str(self.prefetch)}
        options = (
            f"--pool {self.pool} --concurrency {self.concurrency} --queues {self.prefix}"
            " --loglevel WARNING --without-gossip --without-mingle --without-heartbeat"
        ).split()
        celery = [sys.executable, "-m", "celery", "-A", "bench.celery_baseline", "worker"]
        return [
            ([*celery, *options, "--hostname", f"{self.prefix}-{n}@%h"], extra)
            for n in range(self.processes)
        ]

    def send(self, job_id: str) -> None:
        self.app.send_task(PUBLISH, args=(job_id,))

    def send_ping(self, path: str) -> None:
        self.app.send_task(PING, args=(path,))

    def cleanup(self) -> None:
        if self.broker.kind == "redis":
            client = redis.Redis.from_url(self.broker.url)
            try:
                keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
                if keys:
                    client.delete(*keys)
            finally:
                client.close()
        else:
            with self.app.connection_for_write() as conn:
                channel = conn.default_channel
                channel.queue_delete(self.prefix)
                channel.exchange_delete(self.prefix)
        self.app.close()

    def describe(self) -> str:
        shape = (
            f"{self.processes}x{self.concurrency} threads"
            if self.pool == "threads"
            else f"prefork {self.concurrency}"
        )
        return f"Celery ({shape}, prefetch {self.prefetch}) on {self.broker.title}"


async def run(
    env: BenchEnv, jobs: int, *, broker: str = "redis", concurrency: int = 8
) -> dict[str, float]:
    """Saturated throughput, latency and cost of ``jobs`` jobs on Celery (see the module doc)."""
    baseline = CeleryBaseline(resolve_broker(broker, "Celery"), concurrency)
    return await worker.saturate(env, baseline, jobs)


async def latency(
    env: BenchEnv,
    rate_per_s: float,
    seconds: float,
    *,
    broker: str = "redis",
    concurrency: int = 8,
) -> dict[str, float]:
    """Latency at a fixed offered load, open loop."""
    baseline = CeleryBaseline(resolve_broker(broker, "Celery"), concurrency)
    return await worker.open_loop(env, baseline, rate_per_s, seconds)
