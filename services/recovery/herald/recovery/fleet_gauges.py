"""Gauges of the whole fleet, read every few seconds by the recovery service: jobs by live
status, the oldest queued job's wait, live instances per service, and each durable JetStream
consumer's lag. Every recovery replica reports the same readings; rules take ``max``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry import trace
from prometheus_client import Gauge, Histogram
from sqlalchemy import func, select

from herald.common.db.engine import Database
from herald.common.db.models import PublishJob, ServiceHeartbeat
from herald.common.domain.job_states import JobStatus
from herald.common.streams import ALL_CONSUMERS, ConsumerSpec
from herald.recovery.domain.fleet_reading import (
    LIVE_STATUSES,
    ConsumerLag,
    jobs_by_status,
    live_instances,
    oldest_queued_age_s,
)

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)

JOBS = Gauge("herald_jobs", "Jobs in each live (non-terminal) status", ["status"])
TENANT_JOBS = Gauge(
    "herald_tenant_jobs",
    "Jobs in each live status per tenant (only with HERALD_METRICS_TENANT_LABELS=true)",
    ["tenant", "status"],
)
OLDEST_QUEUED = Gauge(
    "herald_oldest_queued_job_age_seconds", "How long the longest-waiting queued job has waited"
)
INSTANCES = Gauge("herald_service_instances", "Instances with a fresh heartbeat", ["service"])
PENDING = Gauge(
    "herald_jetstream_consumer_pending_messages",
    "Messages in the stream a durable consumer has not yet been delivered",
    ["stream", "consumer"],
)
ACK_PENDING = Gauge(
    "herald_jetstream_consumer_ack_pending_messages",
    "Messages delivered to a durable consumer and not yet acknowledged",
    ["stream", "consumer"],
)
REDELIVERED = Gauge(
    "herald_jetstream_consumer_redelivered_messages",
    "Messages a durable consumer has had delivered more than once (and not yet acked)",
    ["stream", "consumer"],
)
READ_SECONDS = Histogram("herald_fleet_gauges_read_seconds", "Time to read the fleet's gauges")


async def read_database(
    db: Database, now: datetime, stale_s: float, per_tenant: bool
) -> tuple[dict[str, int], float, dict[str, int], list[tuple[str, str, int]]]:
    live = [status.value for status in LIVE_STATUSES]
    async with db.transaction() as session:
        counts = await session.execute(
            select(PublishJob.status, func.count())
            .where(PublishJob.status.in_(live))
            .group_by(PublishJob.status)
        )
        by_status = jobs_by_status({status: count for status, count in counts.all()})
        oldest = await session.scalar(
            # requested_at, not queued_at: a job waiting for its reserved rate-limit slot is
            # requested at that slot (reserve_rate_slot), so it is not counted as stuck
            select(func.min(PublishJob.requested_at)).where(PublishJob.status == JobStatus.QUEUED)
        )
        beats = await session.execute(
            select(ServiceHeartbeat.service, ServiceHeartbeat.last_seen_at)
        )
        instances = live_instances(((s, t) for s, t in beats.all()), now, stale_s)
        tenants: list[tuple[str, str, int]] = []
        if per_tenant:
            rows = await session.execute(
                select(PublishJob.tenant_id, PublishJob.status, func.count())
                .where(PublishJob.status.in_(live))
                .group_by(PublishJob.tenant_id, PublishJob.status)
            )
            tenants = [(str(tenant), status, count) for tenant, status, count in rows.all()]
    return by_status, oldest_queued_age_s(oldest, now), instances, tenants


async def read_consumers(
    js: JetStreamContext, specs: Sequence[ConsumerSpec] = ALL_CONSUMERS
) -> list[ConsumerLag]:
    lags = []
    for spec in specs:
        try:
            info = await js.consumer_info(spec.stream.name, spec.durable)
        except NotFoundError:  # its service has not started yet
            continue
        lags.append(
            ConsumerLag(
                spec.stream.name,
                spec.durable,
                info.num_pending or 0,
                info.num_ack_pending or 0,
                info.num_redelivered or 0,
            )
        )
    return lags


async def report_fleet(
    db: Database, js: JetStreamContext, stale_s: float, per_tenant: bool
) -> None:
    """One reading of every fleet gauge."""
    started = time.perf_counter()
    with tracer.start_as_current_span("recovery.fleet_gauges"):
        now = datetime.now(UTC)
        by_status, oldest_s, instances, tenants = await read_database(db, now, stale_s, per_tenant)
        for status, count in by_status.items():
            JOBS.labels(status).set(count)
        OLDEST_QUEUED.set(oldest_s)
        for service, count in instances.items():
            INSTANCES.labels(service).set(count)
        if per_tenant:
            TENANT_JOBS.clear()  # a tenant whose jobs all finished drops out
            for tenant, status, count in tenants:
                TENANT_JOBS.labels(tenant, status).set(count)
        for lag in await read_consumers(js):
            PENDING.labels(lag.stream, lag.consumer).set(lag.pending)
            ACK_PENDING.labels(lag.stream, lag.consumer).set(lag.ack_pending)
            REDELIVERED.labels(lag.stream, lag.consumer).set(lag.redelivered)
    READ_SECONDS.observe(time.perf_counter() - started)
    log.debug("recovery.fleet_gauges", jobs=by_status, oldest_queued_s=round(oldest_s, 1))
