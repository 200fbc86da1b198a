"""The recovery service's fleet gauges read from real PostgreSQL rows and JetStream consumers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from prometheus_client import REGISTRY
from sqlalchemy import update

from herald.common.db.engine import Database
from herald.common.db.migrate import upgrade
from herald.common.db.models import PublishJob, ServiceHeartbeat
from herald.common.settings import HeraldSettings
from herald.common.streams import PUBLISH, ConsumerSpec
from herald.recovery.fleet_gauges import read_consumers, report_fleet
from tests.conftest import fresh_database
from tests.integration.conftest import add_job_rows


@pytest.fixture
async def own_db(postgres_admin_url: str) -> AsyncIterator[Database]:
    """A database of its own: the counts are exact."""
    url = await asyncio.to_thread(fresh_database, postgres_admin_url, "herald_gauges")
    await upgrade(url)
    database = Database(url, pool_size=2)
    yield database
    await database.dispose()


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_jobs_by_status_oldest_queued_and_live_instances(
    own_db: Database, js: JetStreamContext, settings: HeraldSettings
) -> None:
    rows = await add_job_rows(own_db, settings.credential_keys)
    queued_at = datetime.now(UTC) - timedelta(seconds=90)
    async with own_db.transaction() as session:
        await session.execute(
            update(PublishJob).where(PublishJob.id == rows.job_id).values(requested_at=queued_at)
        )
        now = datetime.now(UTC)
        session.add_all(
            [
                ServiceHeartbeat(
                    service="publisher", instance_id="a", started_at=now, last_seen_at=now
                ),
                ServiceHeartbeat(
                    service="publisher",
                    instance_id="dead",
                    started_at=now,
                    last_seen_at=now - timedelta(minutes=5),
                ),
            ]
        )

    await report_fleet(own_db, js, stale_s=20, per_tenant=True)

    assert sample("herald_jobs", status="queued") == 1
    assert sample("herald_jobs", status="processing") == 0
    assert 89 <= (sample("herald_oldest_queued_job_age_seconds") or 0) < 120
    assert sample("herald_service_instances", service="publisher") == 1
    assert sample("herald_service_instances", service="api") == 0
    tenant = str(rows.tenant_id)
    assert sample("herald_tenant_jobs", tenant=tenant, status="queued") == 1


async def test_consumer_lag_counts_undelivered_and_unacknowledged_messages(
    js: JetStreamContext,
) -> None:
    subject = f"herald.publish.lag-test.{uuid.uuid4().hex}"
    spec = ConsumerSpec(f"lag-test-{uuid.uuid4().hex[:8]}", PUBLISH, subject)
    await js.add_consumer(
        PUBLISH.name,
        ConsumerConfig(
            durable_name=spec.durable, filter_subject=subject, ack_policy=AckPolicy.EXPLICIT
        ),
    )
    try:
        for n in range(3):
            await js.publish(subject, str(n).encode())
        pull = await js.pull_subscribe_bind(spec.durable, PUBLISH.name)
        fetched = await pull.fetch(1, timeout=5)  # delivered, deliberately not acked
        assert len(fetched) == 1

        (lag,) = await read_consumers(js, [spec])

        assert (lag.pending, lag.ack_pending) == (2, 1)
        missing = ConsumerSpec("never-created", PUBLISH, subject)
        assert await read_consumers(js, [missing]) == []  # its service has not started yet
    finally:
        await js.delete_consumer(PUBLISH.name, spec.durable)
