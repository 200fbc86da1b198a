"""The job on dramatiq, the way a team that must never lose a job would run it.

Configuration (``make_broker`` / :class:`DramatiqBaseline`), and why:

- reliability: dramatiq's defaults already are the reliable ones: a message is acked only after
  its actor returns (a worker that dies mid-job leaves it to be redelivered: RabbitMQ on the
  connection's loss, Redis after the heartbeat timeout), queues are durable and messages
  persistent, failures retry with backoff (the Retries middleware). On RabbitMQ we add
  publisher confirms (``confirm_delivery=True``) so a send returns once the broker has the
  message. On Redis a job is as durable as the machine's Redis persistence makes it (left alone;
  here, when written, none: a Redis restart loses the queue, so RabbitMQ is the durable
  comparison). A redelivered job is harmless: the claim only takes a ``queued`` job, and the
  sandbox call carries the job id as Idempotency-Key.
- throughput on 2 cores: ``dramatiq --processes 2 --threads <concurrency>`` (8 by default: a
  process per core, dramatiq's own defaults), prefetch left at dramatiq's default (2 x threads;
  :data:`PREFETCH`): prefetch 64, and 16 threads, measured level with it within the noise of a
  shared 2-core machine. On Redis a consumer with nothing to fetch, or whose prefetch is full,
  sleeps (5 ms doubling up to 1 s) before it fetches again; that is dramatiq's, so it stays in.
  The actor is ``async def``: dramatiq's ``AsyncIO`` middleware runs it on one event loop per
  worker process, where the process's asyncpg pool and HTTP client live.
- default middleware otherwise (age and time limits, retries, ...), dramatiq's default INFO
  logging, which logs nothing per message (httpx's INFO line per request is silenced, as it is
  for Celery).
- every key (Redis, ``namespace``) or queue (RabbitMQ: the queue, its ``.DQ`` delay and ``.XQ``
  dead-letter queues) is named after a prefix unique to the run, and deleted afterwards.

The worker processes run ``dramatiq bench.dramatiq_baseline:setup_broker``, which builds the
broker and declares the actors from the environment the harness gives them. On Redis an idle
consumer polls with backoff up to dramatiq's worker timeout (1 s): at low offered loads that, not
the job, sets dramatiq's latency.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import dramatiq
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware.asyncio import AsyncIO

from bench import baseline_worker as worker
from bench.baseline_worker import Baseline, Broker, resolve_broker

if TYPE_CHECKING:
    from bench.environment import BenchEnv


def make_broker(url: str, namespace: str) -> dramatiq.Broker:
    broker: dramatiq.Broker
    if url.startswith(("redis://", "rediss://")):
        broker = RedisBroker(url=url, namespace=namespace)  # type: ignore[no-untyped-call]
    else:
        broker = RabbitmqBroker(url=url, confirm_delivery=True)
    broker.add_middleware(AsyncIO())
    return broker


def declare(broker: dramatiq.Broker, queue: str) -> tuple[dramatiq.Actor[Any, Any], ...]:
    """The publish and ping actors, bound to ``broker`` on ``queue``."""
    return tuple(
        dramatiq.Actor(fn, broker=broker, actor_name=name, queue_name=queue, priority=0, options={})
        for name, fn in (("publish", worker.publish), ("ping", worker.ping))
    )


def setup_broker() -> None:
    """For ``dramatiq bench.dramatiq_baseline:setup_broker``: the workers' broker and actors."""
    queue = os.environ[worker.ENV_QUEUE]
    broker = make_broker(os.environ[worker.ENV_BROKER], queue)
    dramatiq.set_broker(broker)
    declare(broker, queue)


PREFETCH = 0  # messages each worker process holds; 0: dramatiq's default, 2 x threads


class DramatiqBaseline(Baseline):
    name = "dramatiq"
    title = "dramatiq"
    processes = 2

    def __init__(self, broker: Broker, concurrency: int, *, prefetch: int = PREFETCH) -> None:
        super().__init__(broker, concurrency)
        self.prefetch = prefetch
        self.producer = make_broker(broker.url, self.prefix)
        self.publish, self.ping = declare(self.producer, self.prefix)

    @property
    def slots(self) -> int:
        return self.concurrency * self.processes

    @property
    def consumers(self) -> int:
        return self.processes

    def commands(self) -> list[tuple[list[str], dict[str, str]]]:
        argv = [
            sys.executable, "-m", "dramatiq", "bench.dramatiq_baseline:setup_broker",
            "--processes", str(self.processes), "--threads", str(self.concurrency),
            "--queues", self.prefix,
        ]  # fmt: skip
        extra = {worker.ENV_POOL: str(self.concurrency)}
        if self.prefetch:
            extra["dramatiq_queue_prefetch"] = str(self.prefetch)  # dramatiq's own setting
        return [(argv, extra)]

    def send(self, job_id: str) -> None:
        self.publish.send(job_id)

    def send_ping(self, path: str) -> None:
        self.ping.send(path)

    def cleanup(self) -> None:
        if self.broker.kind == "redis":
            client = redis.Redis.from_url(self.broker.url)
            try:
                keys = list(client.scan_iter(match=f"{self.prefix}:*", count=1000))
                if keys:
                    client.delete(*keys)
            finally:
                client.close()
        else:
            assert isinstance(self.producer, RabbitmqBroker)
            for name in (self.prefix, f"{self.prefix}.DQ", f"{self.prefix}.XQ"):
                self.producer.channel.queue_delete(name)
        self.producer.close()

    def describe(self) -> str:
        return (
            f"dramatiq ({self.processes} processes x {self.concurrency} threads,"
            f" prefetch {self.prefetch or 2 * self.concurrency})"
            f" on {self.broker.title}"
        )


async def run(
    env: BenchEnv, jobs: int, *, broker: str = "redis", concurrency: int = 8
) -> dict[str, float]:
    """Saturated throughput, latency and cost of ``jobs`` jobs on dramatiq (see the module doc)."""
    baseline = DramatiqBaseline(resolve_broker(broker, "dramatiq"), concurrency)
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
    baseline = DramatiqBaseline(resolve_broker(broker, "dramatiq"), concurrency)
    return await worker.open_loop(env, baseline, rate_per_s, seconds)
