"""Rate-limit admission (GCRA with reservations): pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.common.platforms import (
    SANDBOX,
    RateLimit,
    channel_rate_limit,
    effective_rate_limit,
)
from herald.publisher.domain.rate_limits import SAFETY, Bucket, admit

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EMPTY = Bucket(None, None)
FIVE = RateLimit(per_period=5, period_s=1, burst=1)
STEP = timedelta(seconds=0.2 * SAFETY)


def test_the_burst_goes_at_once_then_waiters_get_slots_one_interval_apart() -> None:
    limit = RateLimit(per_period=50, period_s=86400, burst=5)
    bucket, slots = EMPTY, []
    for n in range(8):
        decision = admit(bucket, limit, NOW)
        bucket = decision.bucket
        assert decision.allowed is (n < 5)
        if decision.slot:
            slots.append(decision.slot)
    step = timedelta(seconds=86400 / 50 * SAFETY)
    assert slots == [NOW + step, NOW + 2 * step, NOW + 3 * step]


def test_a_reserved_slot_is_honoured_when_it_comes_and_not_before() -> None:
    first = admit(EMPTY, FIVE, NOW)
    waiting = admit(first.bucket, FIVE, NOW)
    assert waiting.slot == NOW + STEP
    early = admit(waiting.bucket, FIVE, NOW + STEP / 2, reserved=waiting.slot)
    assert not early.allowed
    assert early.slot == waiting.slot
    on_time = admit(waiting.bucket, FIVE, NOW + STEP, reserved=waiting.slot)
    assert on_time.allowed
    assert on_time.bucket.tat == waiting.bucket.tat, "the reservation was already scheduled"
    newcomer = admit(on_time.bucket, FIVE, NOW + STEP)
    assert newcomer.slot == NOW + 2 * STEP


def test_a_late_return_does_not_bunch_with_an_on_time_one() -> None:
    bucket = admit(EMPTY, FIVE, NOW).bucket
    one = admit(bucket, FIVE, NOW)
    two = admit(one.bucket, FIVE, NOW)
    assert (one.slot, two.slot) == (NOW + STEP, NOW + 2 * STEP)
    on_time = admit(two.bucket, FIVE, NOW + 2 * STEP, reserved=two.slot)  # two comes back first
    assert on_time.allowed
    late = admit(
        on_time.bucket, FIVE, NOW + 2 * STEP + timedelta(milliseconds=30), reserved=one.slot
    )
    assert not late.allowed, "a call just went out: the late one takes a new slot"
    assert late.slot == NOW + 3 * STEP
    assert late.bucket.tat == NOW + 4 * STEP


def test_an_idle_bucket_forgets_the_past() -> None:
    long_ago = NOW - timedelta(hours=1)
    decision = admit(Bucket(long_ago, long_ago), RateLimit(1, 1, 2), NOW)
    assert decision.allowed


@given(
    events=st.lists(
        st.tuples(st.floats(min_value=0, max_value=30), st.booleans()), min_size=1, max_size=150
    )
)
def test_calls_let_through_never_exceed_the_limit(events: list[tuple[float, bool]]) -> None:
    """Newcomers and returns in any order: admitted calls respect burst + rate."""
    limit = RateLimit(per_period=5, period_s=1, burst=2)
    bucket, admitted = EMPTY, []
    pending: list[datetime] = []
    for offset, is_return in sorted(events):
        now = NOW + timedelta(seconds=offset)
        reserved = pending.pop(0) if is_return and pending else None
        decision = admit(bucket, limit, now, reserved)
        bucket = decision.bucket
        if decision.allowed:
            admitted.append(now)
        elif decision.slot is not None:
            pending.append(decision.slot)
    for i, start in enumerate(admitted):
        window = [t for t in admitted[i:] if (t - start).total_seconds() < 1.0]
        assert len(window) <= limit.burst + limit.per_period


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, None),
        ({"rate_limit": {"per_period": 2, "period_s": 1, "burst": 1}}, RateLimit(2, 1.0, 1)),
        ({"rate_limit": {"per_period": 0, "period_s": 1, "burst": 1}}, None),
        ({"rate_limit": {"per_period": 2, "period_s": -1, "burst": 1}}, None),
        ({"rate_limit": "fast"}, None),
    ],
)
def test_a_channel_may_set_its_own_limit(
    config: dict[str, object], expected: RateLimit | None
) -> None:
    assert channel_rate_limit(config) == expected
    assert effective_rate_limit(SANDBOX, config) == (expected or SANDBOX.rate_limit)
