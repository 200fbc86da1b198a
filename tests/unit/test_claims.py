"""Tests of herald.publisher.domain.claims: why a claim found no row, and what to do about it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.common.domain.job_states import TERMINAL, JobStatus
from herald.publisher.domain.claims import Refusal, refuse_claim
from herald.publisher.domain.fairness import has_room

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
S = JobStatus


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("status", "lease", "next_attempt", "expected"),
    [
        (None, None, None, Refusal("job_missing", None)),
        (None, later(60), later(60), Refusal("job_missing", None)),
        (S.SUCCEEDED, None, None, Refusal("already_finished", None)),
        (S.FAILED, None, None, Refusal("already_finished", None)),
        (S.CANCELLED, None, None, Refusal("already_finished", None)),
        # terminal wins even if stale lease/backoff columns are still set
        (S.FAILED, later(60), later(60), Refusal("already_finished", None)),
        (S.PROCESSING, later(20), None, Refusal("leased_elsewhere", 20.0)),
        (S.PROCESSING, later(3.25), None, Refusal("leased_elsewhere", 3.25)),
        # almost expired or already expired: try again shortly, never immediately
        (S.PROCESSING, later(0.1), None, Refusal("leased_elsewhere", 0.5)),
        (S.PROCESSING, NOW, None, Refusal("leased_elsewhere", 0.5)),
        (S.PROCESSING, later(-30), None, Refusal("leased_elsewhere", 0.5)),
        (S.RETRYING, None, later(12), Refusal("not_due", 12.0)),
        (S.RETRYING, None, later(0.01), Refusal("not_due", 0.1)),
        (S.UNCERTAIN, None, later(4), Refusal("not_due", 4.0)),
        (S.SCHEDULED, None, None, Refusal("not_claimable_scheduled", None)),
        (S.WAITING_AUTH, None, None, Refusal("not_claimable_waiting_auth", None)),
    ],
)
def test_refuse_claim_table(
    status: JobStatus | None,
    lease: datetime | None,
    next_attempt: datetime | None,
    expected: Refusal,
) -> None:
    refusal = refuse_claim(status, lease, next_attempt, NOW)
    assert refusal.reason == expected.reason
    if expected.delay_s is None:
        assert refusal.delay_s is None
    else:
        assert refusal.delay_s == pytest.approx(expected.delay_s)


@pytest.mark.parametrize("status", sorted(TERMINAL), ids=str)
def test_a_finished_job_is_acked_and_dropped(status: JobStatus) -> None:
    assert refuse_claim(status, None, None, NOW) == Refusal("already_finished", None)


@pytest.mark.parametrize("status", [S.RETRYING, S.UNCERTAIN, S.QUEUED], ids=str)
def test_a_backoff_that_has_elapsed_is_not_reported_as_not_due(status: JobStatus) -> None:
    refusal = refuse_claim(status, None, NOW - timedelta(seconds=5), NOW)
    assert refusal.reason != "not_due"
    assert refusal.reason == f"not_claimable_{status.value}"


@settings(database=None, deadline=None)
@given(remaining=st.floats(min_value=-3600, max_value=3600, allow_nan=False))
def test_leased_elsewhere_waits_for_the_remaining_lease_but_at_least_half_a_second(
    remaining: float,
) -> None:
    refusal = refuse_claim(S.PROCESSING, later(remaining), None, NOW)
    assert refusal.reason == "leased_elsewhere"
    assert refusal.delay_s is not None
    assert refusal.delay_s >= 0.5
    expected = (later(remaining) - NOW).total_seconds()
    assert refusal.delay_s == pytest.approx(max(0.5, expected))


@settings(database=None, deadline=None)
@given(remaining=st.floats(min_value=0.001, max_value=86_400, allow_nan=False))
def test_not_due_waits_for_the_backoff(remaining: float) -> None:
    refusal = refuse_claim(S.RETRYING, None, later(remaining), NOW)
    assert refusal.reason == "not_due"
    assert refusal.delay_s is not None
    assert refusal.delay_s >= 0.1
    expected = (later(remaining) - NOW).total_seconds()
    assert refusal.delay_s == pytest.approx(max(0.1, expected))


@pytest.mark.parametrize(
    ("running", "cap", "priority", "room"),
    [
        (0, 10, "low", True),
        (6, 10, "low", True),
        (7, 10, "low", False),  # the last 3 of 10 are kept for normal and high
        (7, 10, "normal", True),
        (8, 10, "normal", False),
        (9, 10, "high", True),
        (10, 10, "high", False),
        (0, 1, "low", True),  # a cap of 1 still lets every class run
        (1, 1, "high", False),
        (500, 0, "low", True),  # 0: no cap
    ],
)
def test_tenant_room(running: int, cap: int, priority: str, room: bool) -> None:
    assert has_room(running, cap, priority) is room
