"""When a job counts as stranded (pure). PostgreSQL is the truth; JetStream may lose messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Cutoffs:
    due_by: datetime  # scheduled jobs due at or before this are dispatched
    requested_before: datetime  # a job last requested before this may need a new request
    retry_due_before: datetime  # a retrying job due before this has lost its redelivery
    lease_expired_before: datetime  # a lease that ran out before this: its worker is gone


@dataclass(frozen=True)
class SweepPolicy:
    """Thresholds of the recovery sweeps.

    ``queued_stale_s`` (30 s): a queued job not claimed this long after its last request is
    requested again. ``retry_overdue_s`` (30 s): a retrying job this far past its due time is
    requested again. ``lease_grace_s`` (5 s): an expired lease this old means its worker died
    and nothing redelivered the request. ``batch_size`` (500) bounds each sweep.
    """

    queued_stale_s: float = 30.0
    retry_overdue_s: float = 30.0
    lease_grace_s: float = 5.0
    batch_size: int = 500

    def cutoffs(self, now: datetime) -> Cutoffs:
        return Cutoffs(
            due_by=now,
            requested_before=now - timedelta(seconds=self.queued_stale_s),
            retry_due_before=now - timedelta(seconds=self.retry_overdue_s),
            lease_expired_before=now - timedelta(seconds=self.lease_grace_s),
        )


def is_missed(scheduled_for: datetime, late_limit_s: int | None, now: datetime) -> bool:
    """Whether a due job is too late to publish (``late_limit_s`` None: publish late anyway)."""
    return late_limit_s is not None and now - scheduled_for > timedelta(seconds=late_limit_s)
