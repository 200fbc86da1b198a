"""De-duplication and escalation of alert occurrences (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.alerter.domain.occurrences import (
    AlertCounts,
    Change,
    escalate_for_rate,
    first_occurrence,
    repeat,
)
from herald.alerter.domain.policy import AlertPolicy
from herald.alerter.domain.severity import Severity, highest

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = AlertPolicy(dedup_window_s=300, escalate_after=3)


def _repeats(severity: Severity, gaps_s: list[float]) -> list[tuple[Change, Severity, int]]:
    counts = first_occurrence(severity, T0).counts
    now, seen = T0, []
    for gap in gaps_s:
        now += timedelta(seconds=gap)
        occurrence = repeat(counts, severity, now, POLICY)
        counts = occurrence.counts
        seen.append((occurrence.change, counts.severity, counts.occurrences))
    return seen


def test_a_first_occurrence_raises_with_its_severity() -> None:
    occurrence = first_occurrence(Severity.ERROR, T0)
    assert occurrence.change is Change.RAISED
    assert (occurrence.counts.occurrences, occurrence.counts.severity) == (1, Severity.ERROR)


def test_the_third_repeat_inside_the_window_escalates_one_level() -> None:
    assert _repeats(Severity.ERROR, [1, 1, 1, 1]) == [
        (Change.REPEATED, Severity.ERROR, 2),
        (Change.REPEATED, Severity.ERROR, 3),
        (Change.ESCALATED, Severity.CRITICAL, 4),
        (Change.REPEATED, Severity.CRITICAL, 5),
    ]


def test_fifty_repeats_escalate_once_from_error_and_stay_critical() -> None:
    seen = _repeats(Severity.ERROR, [1.0] * 49)
    assert [change for change, _, _ in seen].count(Change.ESCALATED) == 1
    assert seen[-1] == (Change.REPEATED, Severity.CRITICAL, 50)


def test_from_warning_each_further_batch_of_repeats_climbs_a_level() -> None:
    seen = _repeats(Severity.WARNING, [1.0] * 6)
    escalations = [severity for change, severity, _ in seen if change is Change.ESCALATED]
    assert escalations == [Severity.ERROR, Severity.CRITICAL]


def test_repeats_spread_wider_than_the_window_never_escalate() -> None:
    seen = _repeats(Severity.WARNING, [301.0] * 10)
    assert all(change is Change.REPEATED for change, _, _ in seen)
    assert seen[-1][2] == 11


def test_a_more_severe_occurrence_escalates_at_once() -> None:
    counts = first_occurrence(Severity.WARNING, T0).counts
    occurrence = repeat(counts, Severity.ERROR, T0 + timedelta(seconds=1), POLICY)
    assert (occurrence.change, occurrence.reason) == (Change.ESCALATED, "severity")
    assert occurrence.counts.severity is Severity.ERROR
    assert occurrence.counts.escalation_level == 1


@given(
    st.lists(
        st.tuples(st.sampled_from(list(Severity)), st.floats(min_value=0, max_value=900)),
        max_size=60,
    )
)
def test_severity_never_drops_and_every_occurrence_is_counted(
    steps: list[tuple[Severity, float]],
) -> None:
    counts = first_occurrence(Severity.INFO, T0).counts
    now = T0
    for severity, gap in steps:
        now += timedelta(seconds=gap)
        before = counts
        occurrence = repeat(counts, severity, now, POLICY)
        counts = occurrence.counts
        assert counts.severity.rank >= highest(before.severity, severity).rank
        assert counts.occurrences == before.occurrences + 1
        escalated = occurrence.change is Change.ESCALATED
        assert escalated == (counts.severity.rank > before.severity.rank)
        assert counts.escalation_level == before.escalation_level + (1 if escalated else 0)
    assert counts.occurrences == len(steps) + 1


def _counts(severity: Severity, escalated_at: datetime | None = None) -> AlertCounts:
    return AlertCounts(severity, 5, T0, 0, 0, escalated_at)


@pytest.mark.parametrize(
    ("severity", "rate", "attempts", "escalated_at", "expected"),
    [
        (Severity.ERROR, 0.9, 20, None, Severity.CRITICAL),
        (Severity.WARNING, 0.5, 10, None, Severity.ERROR),
        (Severity.ERROR, 0.49, 20, None, None),  # under the threshold
        (Severity.ERROR, 1.0, 9, None, None),  # too few attempts to judge
        (Severity.CRITICAL, 1.0, 50, None, None),  # nothing above critical
        (Severity.ERROR, 1.0, 50, T0 - timedelta(seconds=10), None),  # once a window
        (Severity.ERROR, 1.0, 50, T0 - timedelta(seconds=301), Severity.CRITICAL),
    ],
)
def test_failure_rate_escalation(
    severity: Severity,
    rate: float,
    attempts: int,
    escalated_at: datetime | None,
    expected: Severity | None,
) -> None:
    policy = AlertPolicy(failure_rate_threshold=0.5, failure_rate_min_attempts=10)
    result = escalate_for_rate(_counts(severity, escalated_at), rate, attempts, T0, policy)
    assert (result.severity if result else None) == expected
