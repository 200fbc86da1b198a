"""What the fleet's gauges say, decided from raw readings (pure: takes ``now``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from herald.common.domain.job_states import TERMINAL, JobStatus

LIVE_STATUSES = tuple(status for status in JobStatus if status not in TERMINAL)
"""Counted from the (status, scheduled_for) index at every tick. Terminal statuses grow
without bound; their rate is ``herald_jobs_finished_total`` instead."""

SERVICES = ("api", "publisher", "alerter", "recovery")


@dataclass(frozen=True)
class ConsumerLag:
    stream: str
    consumer: str
    pending: int  # in the stream, not yet delivered
    ack_pending: int  # delivered, not yet acknowledged
    redelivered: int


def jobs_by_status(counts: Mapping[str, int]) -> dict[str, int]:
    """Every live status, zero where no job has it, so a drained backlog reads 0, not absent."""
    return {status.value: int(counts.get(status.value, 0)) for status in LIVE_STATUSES}


def oldest_queued_age_s(oldest_queued_at: datetime | None, now: datetime) -> float:
    """Seconds the longest-waiting queued job has waited; 0 when none is queued."""
    if oldest_queued_at is None:
        return 0.0
    return max(0.0, (now - oldest_queued_at).total_seconds())


def live_instances(
    beats: Iterable[tuple[str, datetime]], now: datetime, stale_s: float
) -> dict[str, int]:
    """Instances per known service whose last heartbeat is fresher than ``stale_s``."""
    alive = dict.fromkeys(SERVICES, 0)
    for service, last_seen_at in beats:
        if (now - last_seen_at).total_seconds() <= stale_s:
            alive[service] = alive.get(service, 0) + 1
    return alive
