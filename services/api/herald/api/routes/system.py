"""``GET /v1/system/health``: is Herald working, as far as the calling tenant is concerned."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from fastapi import APIRouter, Response

from herald.api.auth import State, Who
from herald.api.domain.health import http_status
from herald.api.monitoring_schemas import HealthCheckOut, HealthOut
from herald.api.service_layer import system_health

router = APIRouter(prefix="/v1/system", tags=["system"])


@router.get(
    "/health",
    response_model_exclude_none=True,
    responses={503: {"model": HealthOut, "description": "unhealthy: the same body"}},
)
async def system_health_report(who: Who, state: State, response: Response) -> HealthOut:
    """PostgreSQL and NATS (a timed round trip each), every service's heartbeat, and your
    channels' authorization. Any key may ask. HTTP 200 when healthy or degraded, 503 when
    unhealthy; a check that does not answer within ``HERALD_HEALTH_CHECK_TIMEOUT_S`` fails."""
    now = datetime.now(UTC)
    report = await system_health.assess(state, who.tenant_id, now)
    response.status_code = http_status(report.status)
    checks = [
        HealthCheckOut.model_validate({**asdict(c), "channels_not_ok": c.channels_not_ok or None})
        for c in report.checks
    ]
    return HealthOut(status=report.status.value, checked_at=now, checks=checks)
