"""Token bucket decisions (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.common.platforms import SANDBOX, RateLimit, channel_rate_limit, effective_rate_limit
from herald.publisher.domain.rate_limits import Bucket, refill, take

NOW = datetime(2026, 1, 1, tzinfo=UTC)
X_LIKE = RateLimit(per_period=50, period_s=86400, burst=5)  # 50 a day, 5 at once


def test_a_new_bucket_starts_full_and_allows_the_burst() -> None:
    bucket = None
    for _ in range(X_LIKE.burst):
        result = take(bucket, X_LIKE, NOW)
        assert result.allowed
        bucket = result.bucket
    refused = take(bucket, X_LIKE, NOW)
    assert not refused.allowed
    assert refused.wait_s == pytest.approx(86400 / 50)


@pytest.mark.parametrize(
    ("tokens", "elapsed_s", "expected"),
    [(0.0, 0, 0.0), (0.0, 1728, 1.0), (0.0, 864, 0.5), (4.5, 86400, 5.0), (2.0, -10, 2.0)],
)
def test_refill_accrues_at_the_rate_up_to_the_burst(
    tokens: float, elapsed_s: float, expected: float
) -> None:
    bucket = refill(Bucket(tokens, NOW), X_LIKE, NOW + timedelta(seconds=elapsed_s))
    assert bucket.tokens == pytest.approx(expected)


def test_wait_is_the_time_until_one_whole_token() -> None:
    result = take(Bucket(0.25, NOW), RateLimit(2, 1.0, 1), NOW)
    assert not result.allowed
    assert result.wait_s == pytest.approx(0.375)


@given(times=st.lists(st.floats(min_value=0, max_value=3600), min_size=1, max_size=200))
def test_never_more_than_burst_plus_rate_times_window(times: list[float]) -> None:
    limit = RateLimit(per_period=10, period_s=60, burst=3)
    bucket, allowed = None, 0
    for offset in sorted(times):
        result = take(bucket, limit, NOW + timedelta(seconds=offset))
        bucket, allowed = result.bucket, allowed + result.allowed
    window = max(times) if times else 0
    assert allowed <= limit.burst + window * limit.per_period / limit.period_s + 1e-9


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
