"""Each process records that it is alive, so the API can report fleet health."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import Gauge
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from herald.common.db.engine import Database
from herald.common.db.models import ServiceHeartbeat
from herald.common.pacing import sleep_unless_stopped

log = structlog.get_logger(__name__)

LAST_BEAT = Gauge("herald_heartbeat_timestamp_seconds", "Last heartbeat written", ["service"])


async def beat(
    db: Database, service: str, instance_id: str, started_at: datetime, info: dict[str, Any]
) -> None:
    """Upsert this instance's heartbeat row."""
    now = datetime.now(UTC)
    statement = insert(ServiceHeartbeat).values(
        service=service,
        instance_id=instance_id,
        started_at=started_at,
        last_seen_at=now,
        info=info,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[ServiceHeartbeat.service, ServiceHeartbeat.instance_id],
        set_={"last_seen_at": now, "info": statement.excluded.info},
    )
    async with db.transaction() as session:
        await session.execute(statement)
    LAST_BEAT.labels(service).set(now.timestamp())


async def run_heartbeat(
    db: Database,
    service: str,
    instance_id: str,
    stop: asyncio.Event,
    interval_s: float,
    info: dict[str, Any] | None = None,
) -> None:
    """Beat every ``interval_s`` until ``stop`` is set; a failed beat is logged and retried.

    A clean stop removes the row, so only an instance that died stays behind, stale, for the
    alerter's heartbeat rule to report."""
    started_at = datetime.now(UTC)
    while not stop.is_set():
        try:
            await beat(db, service, instance_id, started_at, info or {})
        except Exception as error:  # the database may be down; the next beat will tell
            log.warning("heartbeat.failed", error=str(error))
        await sleep_unless_stopped(stop, interval_s)
    try:
        await goodbye(db, service, instance_id)
    except Exception as error:  # the row goes stale and is reported, then forgotten
        log.warning("heartbeat.goodbye_failed", error=str(error))


async def goodbye(db: Database, service: str, instance_id: str) -> None:
    """Remove this instance's heartbeat row: it stopped on purpose."""
    async with db.transaction() as session:
        await session.execute(
            delete(ServiceHeartbeat).where(
                ServiceHeartbeat.service == service, ServiceHeartbeat.instance_id == instance_id
            )
        )
