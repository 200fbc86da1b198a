"""Threshold rules evaluated from the database every few seconds (pure).

The alerter reads a ``FleetSnapshot`` and asks ``evaluate`` which conditions hold now; each
becomes an open alert (``source`` ``rules``) that resolves itself once the condition is gone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from herald.alerter.domain.notification import PLATFORM_CATEGORY
from herald.alerter.domain.policy import AlertPolicy
from herald.alerter.domain.severity import Severity


@dataclass(frozen=True)
class FailureRate:
    """Attempts of one tenant's channels on one platform inside the window."""

    tenant_id: uuid.UUID
    platform: str
    attempts: int
    failures: int
    failing_channels: int

    @property
    def rate(self) -> float:
        return self.failures / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class Heartbeat:
    service: str
    instance_id: str
    last_seen_at: datetime


@dataclass(frozen=True)
class FleetSnapshot:
    oldest_queued_at: datetime | None = None
    queued: int = 0
    stuck_processing: int = 0
    heartbeats: tuple[Heartbeat, ...] = ()
    platform_rates: tuple[FailureRate, ...] = ()


@dataclass(frozen=True)
class Condition:
    """A rule that holds: its alert's key, tenant (None: operator-wide) and content."""

    dedup_key: str
    tenant_id: uuid.UUID | None
    category: str
    severity: Severity
    message: str
    platform: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def evaluate(snapshot: FleetSnapshot, now: datetime, policy: AlertPolicy) -> list[Condition]:
    return [
        *_oldest_queued(snapshot, now, policy),
        *_stuck(snapshot),
        *_heartbeats(snapshot, now, policy),
        *_platforms(snapshot, policy),
    ]


def _oldest_queued(snapshot: FleetSnapshot, now: datetime, policy: AlertPolicy) -> list[Condition]:
    if snapshot.oldest_queued_at is None:
        return []
    age = (now - snapshot.oldest_queued_at).total_seconds()
    if age < policy.oldest_queued_s:
        return []
    severity = Severity.ERROR if age >= 4 * policy.oldest_queued_s else Severity.WARNING
    return [
        Condition(
            "rule:oldest_queued",
            None,
            "queue_backlog",
            severity,
            f"the oldest queued job has waited {age:.0f} s "
            f"(threshold {policy.oldest_queued_s:.0f} s)",
            details={"oldest_age_s": round(age, 1), "queued": snapshot.queued},
        )
    ]


def _stuck(snapshot: FleetSnapshot) -> list[Condition]:
    if snapshot.stuck_processing == 0:
        return []
    return [
        Condition(
            "rule:stuck_processing",
            None,
            "jobs_stuck",
            Severity.ERROR,
            f"{snapshot.stuck_processing} job(s) stuck in processing",
            details={"jobs": snapshot.stuck_processing},
        )
    ]


def _heartbeats(snapshot: FleetSnapshot, now: datetime, policy: AlertPolicy) -> list[Condition]:
    def alive(beat: Heartbeat) -> bool:
        return (now - beat.last_seen_at).total_seconds() < policy.heartbeat_stale_s

    live_services = {beat.service for beat in snapshot.heartbeats if alive(beat)}
    conditions = []
    for beat in snapshot.heartbeats:
        if alive(beat):
            continue
        silent = (now - beat.last_seen_at).total_seconds()
        # a replica down is a warning while others serve; the last one down is an error
        severity = Severity.WARNING if beat.service in live_services else Severity.ERROR
        conditions.append(
            Condition(
                f"rule:heartbeat:{beat.service}:{beat.instance_id}",
                None,
                "service_down",
                severity,
                f"{beat.service} instance {beat.instance_id} "
                f"stopped its heartbeat {silent:.0f} s ago",
                details={"service": beat.service, "instance_id": beat.instance_id},
            )
        )
    return conditions


def _platforms(snapshot: FleetSnapshot, policy: AlertPolicy) -> list[Condition]:
    return [
        Condition(
            f"platform_failing:{rate.platform}",
            rate.tenant_id,
            PLATFORM_CATEGORY,
            Severity.ERROR,
            f"{rate.platform} is failing on {rate.failing_channels} of your channels "
            f"({rate.rate:.0%} of {rate.attempts} attempts)",
            platform=rate.platform,
            details={
                "attempts": rate.attempts,
                "failures": rate.failures,
                "failing_channels": rate.failing_channels,
            },
        )
        for rate in snapshot.platform_rates
        if rate.attempts >= policy.failure_rate_min_attempts
        and rate.rate >= policy.failure_rate_threshold
        and rate.failing_channels >= policy.platform_min_channels
    ]


STATE_CATEGORIES = frozenset({"channel_auth"})
"""Alerts about a state that lasts (a channel needing re-authorization) do not go quiet: they
resolve when the state ends (the channel's next success)."""


def resolves_quietly(
    category: str, last_seen_at: datetime, now: datetime, policy: AlertPolicy
) -> bool:
    """An alert with no occurrence for ``quiet_resolve_s`` resolves itself."""
    if category in STATE_CATEGORIES:
        return False
    return (now - last_seen_at).total_seconds() >= policy.quiet_resolve_s
