"""System health decided from what each check saw (pure: no I/O, takes ``now``).

``GET /v1/system/health`` runs its probes (PostgreSQL, NATS, the heartbeat table, the tenant's
channels) and hands their readings here; the worst check decides the whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType


class Health(StrEnum):
    HEALTHY = "healthy"  # everything answers as designed
    DEGRADED = "degraded"  # approved posts still publish, but something needs attention
    UNHEALTHY = "unhealthy"  # posts cannot be accepted or published (HTTP 503)


_RANK = {Health.HEALTHY: 0, Health.DEGRADED: 1, Health.UNHEALTHY: 2}

IF_MISSING: Mapping[str, Health] = MappingProxyType(
    {
        "api": Health.DEGRADED,  # this instance answers, but heartbeats are not being written
        "publisher": Health.UNHEALTHY,  # nothing publishes
        "alerter": Health.DEGRADED,  # failures go unannounced
        "recovery": Health.DEGRADED,  # due schedules wait; lost requests are not re-sent
    }
)
"""The services expected to heartbeat, and what it means when none of a service's instances
has a fresh heartbeat."""


@dataclass(frozen=True)
class Probe:
    """One timed call behind a check: how long it took and, if it failed, why."""

    elapsed_ms: float
    error: str | None = None  # e.g. "timed out after 2 s"; None when it answered


@dataclass(frozen=True)
class Check:
    """One line of the report. The optional numbers belong to service and channel checks."""

    name: str
    kind: str  # dependency | service | channels
    status: Health
    response_time_ms: float
    detail: str | None = None
    instances: int | None = None  # fresh instances of a service
    stale_instances: int | None = None
    last_seen_s_ago: float | None = None
    stale_after_s: float | None = None
    channels: int | None = None
    channels_not_ok: Mapping[str, int] = field(default_factory=dict)  # auth_state -> count


def stale_after_s(heartbeat_interval_s: float, missed_beats: float) -> float:
    """How old a heartbeat may be before its instance no longer counts as running."""
    return heartbeat_interval_s * missed_beats


def dependency(name: str, probe: Probe) -> Check:
    """PostgreSQL or NATS: answering is healthy, anything else is unhealthy."""
    status = Health.HEALTHY if probe.error is None else Health.UNHEALTHY
    return Check(name, "dependency", status, probe.elapsed_ms, probe.error)


def services(
    beats: Iterable[tuple[str, datetime]] | None, probe: Probe, now: datetime, stale_s: float
) -> list[Check]:
    """One check per expected service from its instances' ``(service, last_seen_at)``; a
    service with at least one fresh instance is healthy, one without takes its ``IF_MISSING``
    status. Unreadable heartbeats (``beats`` None) count as every service missing."""
    ages: dict[str, list[float]] = {service: [] for service in IF_MISSING}
    for service, last_seen_at in beats or ():
        if service in ages:
            ages[service].append(max(0.0, (now - last_seen_at).total_seconds()))
    return [_service(name, seen, beats is not None, probe, stale_s) for name, seen in ages.items()]


def _service(name: str, ages: list[float], read: bool, probe: Probe, stale_s: float) -> Check:
    fresh = sum(1 for age in ages if age <= stale_s)
    stale = len(ages) - fresh
    last = round(min(ages), 1) if ages else None
    detail: str | None
    if not read:
        detail = f"heartbeats unreadable: {probe.error}"
    elif fresh:
        detail = f"{fresh} running, {stale} stale" if stale else None
    elif ages:
        detail = f"no heartbeat for {last:.0f} s (more than {stale_s:g} s)"
    else:
        detail = "no instance has sent a heartbeat"
    status = Health.HEALTHY if fresh else IF_MISSING[name]
    return Check(
        name,
        "service",
        status,
        probe.elapsed_ms,
        detail,
        instances=fresh,
        stale_instances=stale,
        last_seen_s_ago=last,
        stale_after_s=stale_s,
    )


def channels(auth_states: Mapping[str, int] | None, probe: Probe) -> Check:
    """The tenant's channels by ``auth_state``: any not ``ok`` (e.g. ``reauth_required``)
    degrades; an unreadable count degrades too (publishing itself is judged elsewhere)."""
    if auth_states is None:
        return Check(
            "channels", "channels", Health.DEGRADED, probe.elapsed_ms, f"unreadable: {probe.error}"
        )
    total = sum(auth_states.values())
    not_ok = {state: n for state, n in sorted(auth_states.items()) if state != "ok" and n}
    if not not_ok:
        return Check("channels", "channels", Health.HEALTHY, probe.elapsed_ms, channels=total)
    states = ", ".join(f"{state}: {n}" for state, n in not_ok.items())
    detail = f"{sum(not_ok.values())} of {total} channels need attention ({states})"
    return Check(
        "channels",
        "channels",
        Health.DEGRADED,
        probe.elapsed_ms,
        detail,
        channels=total,
        channels_not_ok=not_ok,
    )


def overall(checks: Sequence[Check]) -> Health:
    """The worst status of any check; healthy when there is none."""
    return max((check.status for check in checks), key=_RANK.__getitem__, default=Health.HEALTHY)


def http_status(health: Health) -> int:
    """200 while posts can still be published (healthy or degraded), 503 when they cannot."""
    return 503 if health is Health.UNHEALTHY else 200
