"""``GET /v1/system/health``: every probe at once, each time-boxed, judged by the domain.

A probe that hangs (a lock, a lost connection, an exhausted pool) fails its check after
``HERALD_HEALTH_CHECK_TIMEOUT_S`` instead of holding up the answer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import structlog
from prometheus_client import Histogram
from sqlalchemy import func, select

from herald.api.domain import health
from herald.api.domain.health import Check, Health, Probe
from herald.api.state import AppState
from herald.common.db.engine import Database
from herald.common.db.models import Channel, ServiceHeartbeat

log = structlog.get_logger(__name__)

CHECK_SECONDS = Histogram(
    "herald_health_check_duration_seconds",
    "Time each probe of GET /v1/system/health took, timeouts included",
    ["check"],
)

T = TypeVar("T")


@dataclass(frozen=True)
class HealthReport:
    status: Health
    checks: list[Check]


async def timed(
    name: str, call: Callable[[], Awaitable[T]], timeout_s: float
) -> tuple[T | None, Probe]:
    """Run ``call`` for at most ``timeout_s``; its value (None when it failed) and the probe.
    A failure is named by its class only: the report goes to tenants, the log gets the rest."""
    started = time.perf_counter()
    value: T | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(timeout_s) as deadline:
            value = await call()
    except TimeoutError as failure:  # ours, or one the probe raised itself
        late = deadline.expired()
        error = f"timed out after {timeout_s:g} s" if late else type(failure).__name__
    except Exception as failure:  # a failing dependency is this check's answer, not a crash
        error = type(failure).__name__
        log.info("system.health.probe_failed", check=name, error=repr(failure))
    elapsed = time.perf_counter() - started
    CHECK_SECONDS.labels(name).observe(elapsed)
    return value, Probe(round(elapsed * 1000, 2), error)


async def _heartbeats(db: Database) -> list[tuple[str, datetime]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(ServiceHeartbeat.service, ServiceHeartbeat.last_seen_at)
        )
        return [(service, seen) for service, seen in rows.all()]


async def _auth_states(db: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    async with db.transaction(tenant_id) as session:
        rows = await session.execute(
            select(Channel.auth_state, func.count())
            .where(Channel.tenant_id == tenant_id)
            .group_by(Channel.auth_state)
        )
        return {state: count for state, count in rows.all()}


async def assess(state: AppState, tenant_id: uuid.UUID, now: datetime) -> HealthReport:
    """Probe PostgreSQL, NATS, the fleet's heartbeats and the tenant's channels concurrently."""
    settings, db = state.settings, state.db
    timeout_s = settings.health_check_timeout_s
    (_, database), (_, nats), (beats, beat_probe), (auth, auth_probe) = await asyncio.gather(
        timed("postgresql", db.ping, timeout_s),
        timed("nats", state.nats_ping, timeout_s),
        timed("heartbeats", lambda: _heartbeats(db), timeout_s),
        timed("channels", lambda: _auth_states(db, tenant_id), timeout_s),
    )
    stale_s = health.stale_after_s(settings.heartbeat_interval_s, settings.health_missed_beats)
    checks = [
        health.dependency("postgresql", database),
        health.dependency("nats", nats),
        *health.services(beats, beat_probe, now, stale_s),
        health.channels(auth, auth_probe),
    ]
    report = HealthReport(health.overall(checks), checks)
    if report.status is not Health.HEALTHY:
        log.warning(
            "system.health",
            status=report.status.value,
            tenant_id=str(tenant_id),
            checks=[
                {"name": c.name, "status": c.status.value, "detail": c.detail}
                for c in checks
                if c.status is not Health.HEALTHY
            ],
        )
    return report
