"""The per-API-key request budget (GCRA): pure decisions, table-driven and with hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.api.domain.request_budget import Budget, Spend, admit, admitted, headers

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TWO_PER_S = Budget(rate_per_s=2, burst=3)
MS = timedelta(milliseconds=1)


def run(budget: Budget, times: list[datetime]) -> list[Spend]:
    tat: datetime | None = None
    spends = []
    for now in times:
        spend = admit(tat, budget, now)
        tat = spend.tat
        spends.append(spend)
    return spends


def test_a_full_bucket_admits_the_burst_at_once_then_refuses() -> None:
    spends = run(TWO_PER_S, [NOW] * 5)
    assert [s.allowed for s in spends] == [True, True, True, False, False]
    assert [s.remaining for s in spends] == [2, 1, 0, 0, 0]
    assert spends[3].retry_after == timedelta(seconds=0.5)
    assert spends[3].retry_after_s == 1
    assert spends[3].tat == spends[2].tat, "a refusal stores nothing"


def test_a_refused_request_is_admitted_after_its_retry_after() -> None:
    *_, third, refused = run(TWO_PER_S, [NOW] * 4)
    assert not refused.allowed
    assert admit(third.tat, TWO_PER_S, NOW + refused.retry_after).allowed
    assert not admit(third.tat, TWO_PER_S, NOW + refused.retry_after - MS).allowed


def test_the_bucket_refills_at_the_rate() -> None:
    tat = run(TWO_PER_S, [NOW] * 3)[-1].tat
    assert admit(tat, TWO_PER_S, NOW + timedelta(seconds=0.5)).remaining == 0
    assert admit(tat, TWO_PER_S, NOW + timedelta(seconds=1)).remaining == 1
    idle = admit(tat, TWO_PER_S, NOW + timedelta(hours=1))
    assert (idle.allowed, idle.remaining) == (True, 2), "idle time never banks beyond the burst"


@pytest.mark.parametrize(
    ("budget", "enabled"),
    [(Budget(0, 10), False), (Budget(5, 0), False), (Budget(0.5, 1), True)],
)
def test_zero_rate_or_burst_disables(budget: Budget, enabled: bool) -> None:
    assert budget.enabled is enabled


def test_headers_say_the_limit_what_is_left_and_when_to_retry() -> None:
    spends = run(TWO_PER_S, [NOW] * 4)
    assert headers(spends[0], TWO_PER_S) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "2",
        "RateLimit-Reset": "1",  # 0.5 s until full again, rounded up
    }
    refused = headers(spends[3], TWO_PER_S)
    assert refused["Retry-After"] == "1"
    assert refused["RateLimit-Remaining"] == "0"
    assert refused["RateLimit-Reset"] == "2"  # 1.5 s


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    slow = Budget(rate_per_s=0.4, burst=1)  # one request every 2.5 s
    first, refused = run(slow, [NOW, NOW + MS])
    assert refused.retry_after == timedelta(seconds=2.5) - MS
    assert refused.retry_after_s == 3
    barely = admit(first.tat, slow, NOW + timedelta(seconds=2.5) - MS)
    assert barely.retry_after == MS
    assert barely.retry_after_s == 1


budgets = st.builds(
    Budget,
    rate_per_s=st.floats(min_value=0.01, max_value=1000),
    burst=st.integers(min_value=1, max_value=500),
)
gaps = st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=1, max_size=80)


@given(budgets, gaps)
def test_no_window_admits_more_than_the_burst_plus_what_refilled(
    budget: Budget, gaps_us: list[int]
) -> None:
    times, now = [], NOW
    for gap in gaps_us:
        now += timedelta(microseconds=gap)
        times.append(now)
    admitted_at = [t for t, s in zip(times, run(budget, times), strict=True) if s.allowed]
    for i, start in enumerate(admitted_at):
        for j in range(i, len(admitted_at)):
            window = admitted_at[j] - start
            assert j - i + 1 <= budget.burst + window / budget.interval + 1e-9


@given(budgets, gaps)
def test_what_admit_stores_reads_back_as_the_same_decision(
    budget: Budget, gaps_us: list[int]
) -> None:
    tat: datetime | None = None
    now = NOW
    for gap in gaps_us:
        now += timedelta(microseconds=gap)
        spend = admit(tat, budget, now)
        if spend.allowed:
            assert spend.tat is not None
            assert admitted(spend.tat, budget, now) == spend
        else:
            assert spend.retry_after > timedelta(0)
            assert admit(tat, budget, now + spend.retry_after).allowed
        assert 0 <= spend.remaining < budget.burst
        tat = spend.tat
