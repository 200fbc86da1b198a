"""What one more occurrence does to an alert: open it, count it, or escalate it (pure).

Like Alertmanager's dedup stage, a repeat of an open alert never makes a second one; unlike
Alertmanager, repeats inside the de-duplication window escalate the severity.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from herald.alerter.domain.policy import AlertPolicy
from herald.alerter.domain.severity import Severity, highest


@dataclass(frozen=True)
class AlertCounts:
    """The part of an open alert that de-duplication and escalation read and write."""

    severity: Severity
    occurrences: int
    window_started_at: datetime
    window_occurrences: int  # repeats since the window started
    escalation_level: int
    escalated_at: datetime | None = None


class Change(StrEnum):
    RAISED = "raised"  # a new alert: notify
    REPEATED = "repeated"  # counted, absorbed: no notification
    ESCALATED = "escalated"  # counted and its severity went up: notify


@dataclass(frozen=True)
class Occurrence:
    change: Change
    counts: AlertCounts
    reason: str | None = None  # why it escalated: repeats or severity


def first_occurrence(severity: Severity, now: datetime) -> Occurrence:
    return Occurrence(Change.RAISED, AlertCounts(severity, 1, now, 0, 0))


def repeat(
    counts: AlertCounts, severity: Severity, now: datetime, policy: AlertPolicy
) -> Occurrence:
    """Count a repeat of an open alert; escalate on the N-th repeat inside the window, or
    when the occurrence itself is more severe (a retried failure that became final)."""
    in_window = now - counts.window_started_at <= timedelta(seconds=policy.dedup_window_s)
    counted = replace(
        counts,
        occurrences=counts.occurrences + 1,
        window_started_at=counts.window_started_at if in_window else now,
        window_occurrences=counts.window_occurrences + 1 if in_window else 1,
    )
    if severity.rank > counts.severity.rank:
        return Occurrence(Change.ESCALATED, _escalate(counted, severity, now), "severity")
    if counted.window_occurrences >= policy.escalate_after:
        target = counts.severity.raised()
        restarted = replace(counted, window_started_at=now, window_occurrences=0)
        if target is not counts.severity:
            return Occurrence(Change.ESCALATED, _escalate(restarted, target, now), "repeats")
        return Occurrence(Change.REPEATED, restarted)
    return Occurrence(Change.REPEATED, counted)


def escalate_for_rate(
    counts: AlertCounts, rate: float, attempts: int, now: datetime, policy: AlertPolicy
) -> AlertCounts | None:
    """A channel failing more often than the threshold escalates once per window; None: not."""
    if attempts < policy.failure_rate_min_attempts or rate < policy.failure_rate_threshold:
        return None
    if counts.severity is Severity.CRITICAL:
        return None
    window = timedelta(seconds=policy.dedup_window_s)
    if counts.escalated_at is not None and now - counts.escalated_at < window:
        return None
    return _escalate(counts, counts.severity.raised(), now)


def _escalate(counts: AlertCounts, severity: Severity, now: datetime) -> AlertCounts:
    return replace(
        counts,
        severity=highest(counts.severity, severity),
        escalation_level=counts.escalation_level + 1,
        escalated_at=now,
    )
