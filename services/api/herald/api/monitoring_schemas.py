"""Response bodies of the monitoring read models: ``GET /v1/system/health`` and
``GET /v1/queue/stats``. Add fields freely; rename or remove only with a version bump."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HealthStatus = Literal["healthy", "degraded", "unhealthy"]

_HEALTH_EXAMPLE: dict[str, Any] = {
    "status": "degraded",
    "checked_at": "2026-12-01T12:00:00.123456Z",
    "checks": [
        {"name": "postgresql", "kind": "dependency", "status": "healthy", "response_time_ms": 1.2},
        {"name": "nats", "kind": "dependency", "status": "healthy", "response_time_ms": 0.4},
        {
            "name": "api",
            "kind": "service",
            "status": "healthy",
            "response_time_ms": 1.5,
            "instances": 2,
            "stale_instances": 0,
            "last_seen_s_ago": 0.8,
            "stale_after_s": 15.0,
        },
        {
            "name": "publisher",
            "kind": "service",
            "status": "healthy",
            "response_time_ms": 1.5,
            "detail": "3 running, 1 stale",
            "instances": 3,
            "stale_instances": 1,
            "last_seen_s_ago": 0.2,
            "stale_after_s": 15.0,
        },
        {
            "name": "alerter",
            "kind": "service",
            "status": "healthy",
            "response_time_ms": 1.5,
            "instances": 1,
            "stale_instances": 0,
            "last_seen_s_ago": 2.9,
            "stale_after_s": 15.0,
        },
        {
            "name": "recovery",
            "kind": "service",
            "status": "degraded",
            "response_time_ms": 1.5,
            "detail": "no heartbeat for 42 s (more than 15 s)",
            "instances": 0,
            "stale_instances": 1,
            "last_seen_s_ago": 42.0,
            "stale_after_s": 15.0,
        },
        {
            "name": "channels",
            "kind": "channels",
            "status": "degraded",
            "response_time_ms": 1.1,
            "detail": "1 of 4 channels need attention (reauth_required: 1)",
            "channels": 4,
            "channels_not_ok": {"reauth_required": 1},
        },
    ],
}


class HealthCheckOut(BaseModel):
    """One check; the optional fields belong to service or channel checks and are omitted
    elsewhere."""

    name: str = Field(
        description="postgresql, nats, a service (api, publisher, alerter, recovery) or channels"
    )
    kind: Literal["dependency", "service", "channels"]
    status: HealthStatus
    response_time_ms: float = Field(description="how long the probe behind the check took")
    detail: str | None = Field(None, description="why it is not healthy, or what stands out")
    instances: int | None = Field(None, description="service: instances with a fresh heartbeat")
    stale_instances: int | None = Field(None, description="service: instances gone silent")
    last_seen_s_ago: float | None = Field(None, description="service: the freshest heartbeat")
    stale_after_s: float | None = Field(
        None, description="service: a heartbeat older than this no longer counts"
    )
    channels: int | None = Field(None, description="channels: how many the tenant has")
    channels_not_ok: dict[str, int] | None = Field(
        None, description="channels: how many are in each auth_state other than ok"
    )


class HealthOut(BaseModel):
    """``healthy``; ``degraded`` (HTTP 200: posts still publish, something needs attention);
    ``unhealthy`` (HTTP 503: posts cannot be accepted or published)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_HEALTH_EXAMPLE]})
    status: HealthStatus = Field(description="the worst status of any check")
    checked_at: datetime
    checks: list[HealthCheckOut]


class JobTallyOut(BaseModel):
    total: int
    by_status: dict[str, int] = Field(description="every status counted here, zeros included")
    by_priority: dict[str, int] = Field(description="high, normal, low")


class ThroughputBucketOut(BaseModel):
    minute: datetime = Field(description="start of the minute (UTC)")
    succeeded: int
    failed: int


class QueueStatsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-01T12:02:30.5Z",
                    "window_minutes": 3,
                    "since": "2026-12-01T12:00:00Z",
                    "live": {
                        "total": 7,
                        "by_status": {
                            "scheduled": 4,
                            "queued": 2,
                            "processing": 1,
                            "retrying": 0,
                            "waiting_auth": 0,
                            "uncertain": 0,
                        },
                        "by_priority": {"high": 1, "normal": 6, "low": 0},
                    },
                    "oldest_queued_age_s": 1.8,
                    "finished": {
                        "total": 95,
                        "by_status": {"succeeded": 93, "failed": 2},
                        "by_priority": {"high": 10, "normal": 85, "low": 0},
                    },
                    "finished_per_minute": 31.67,
                    "throughput": [
                        {"minute": "2026-12-01T12:00:00Z", "succeeded": 40, "failed": 1},
                        {"minute": "2026-12-01T12:01:00Z", "succeeded": 38, "failed": 1},
                        {"minute": "2026-12-01T12:02:00Z", "succeeded": 15, "failed": 0},
                    ],
                }
            ]
        }
    )
    as_of: datetime
    window_minutes: int
    since: datetime = Field(description="start of the window: the first bucket's minute")
    live: JobTallyOut = Field(description="jobs not yet finished, now")
    oldest_queued_age_s: float = Field(
        description="seconds the longest-waiting queued job has waited since it was last "
        "requested; 0 when none is queued"
    )
    finished: JobTallyOut = Field(description="jobs that succeeded or failed in the window")
    finished_per_minute: float = Field(description="finished.total / window_minutes")
    throughput: list[ThroughputBucketOut] = Field(
        description="one bucket per minute, oldest first; the last is the minute in progress"
    )
