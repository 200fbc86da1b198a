"""Tests of herald.publisher.domain.retry_policy: backoff ceilings, jitter and decisions."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.common.domain.job_states import JobStatus
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)
from herald.publisher.domain.retry_policy import RetryDecision, RetryPolicy, decide

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy()
NO_DB = settings(database=None, deadline=None)


def transient(retry_after_s: float | None = None) -> TransientPublishError:
    return TransientPublishError(
        "http_503", "unavailable", http_status=503, retry_after_s=retry_after_s
    )


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [
        (0, 1.0),  # clamped: never below the base
        (1, 1.0),
        (2, 2.0),
        (3, 4.0),
        (4, 8.0),
        (5, 16.0),
        (6, 30.0),  # 32 capped
        (7, 30.0),
        (50, 30.0),
    ],
)
def test_ceiling_doubles_from_one_second_and_caps_at_thirty(attempt: int, ceiling: float) -> None:
    assert POLICY.ceiling(attempt) == ceiling
    assert isinstance(POLICY.ceiling(attempt), float)


@pytest.mark.parametrize(
    ("policy", "attempt", "ceiling"),
    [
        (RetryPolicy(base_s=0.25, factor=3.0, max_s=100.0), 1, 0.25),
        (RetryPolicy(base_s=0.25, factor=3.0, max_s=100.0), 3, 2.25),
        (RetryPolicy(base_s=0.25, factor=3.0, max_s=100.0), 7, 100.0),
        (RetryPolicy(base_s=5.0, max_s=3.0), 1, 3.0),
    ],
)
def test_ceiling_with_custom_parameters(policy: RetryPolicy, attempt: int, ceiling: float) -> None:
    assert policy.ceiling(attempt) == pytest.approx(ceiling)


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 10])
def test_without_jitter_the_delay_is_the_ceiling(attempt: int) -> None:
    policy = RetryPolicy(jitter=False)
    assert policy.next_delay(attempt, random.Random(0)) == policy.ceiling(attempt)


@NO_DB
@given(
    seed=st.integers(min_value=0, max_value=2**32), attempt=st.integers(min_value=1, max_value=40)
)
def test_jittered_delay_lies_between_zero_and_the_ceiling(seed: int, attempt: int) -> None:
    delay = POLICY.next_delay(attempt, random.Random(seed))
    assert 0.0 <= delay <= POLICY.ceiling(attempt)


def test_jitter_spreads_delays_over_the_whole_range() -> None:
    rng = random.Random(42)
    delays = [POLICY.next_delay(6, rng) for _ in range(2000)]
    assert min(delays) < 3.0
    assert max(delays) > 27.0
    assert len(set(delays)) > 1900


def test_jitter_is_reproducible_for_a_seed() -> None:
    first = [POLICY.next_delay(4, random.Random(7)) for _ in range(3)]
    assert first == [first[0]] * 3


@NO_DB
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    attempt=st.integers(min_value=1, max_value=POLICY.max_attempts - 1),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=3600)),
)
def test_transient_error_with_attempts_left_retries(
    seed: int, attempt: int, retry_after: float | None
) -> None:
    decision = decide(transient(retry_after), attempt, POLICY, NOW, random.Random(seed))
    assert decision.status is JobStatus.RETRYING
    assert not decision.final
    assert decision.delay_s >= (retry_after or 0.0)
    assert decision.delay_s <= max(POLICY.ceiling(attempt), retry_after or 0.0)
    assert decision.retry_at == NOW + timedelta(seconds=decision.delay_s)


def test_retry_after_longer_than_the_backoff_wins() -> None:
    decision = decide(transient(120.0), 1, POLICY, NOW, random.Random(1))
    assert decision == RetryDecision(JobStatus.RETRYING, 120.0, NOW + timedelta(seconds=120))


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it() -> None:
    policy = RetryPolicy(jitter=False)
    decision = decide(transient(0.5), 4, policy, NOW, random.Random(1))
    assert decision.delay_s == 8.0
    assert decision.retry_at == NOW + timedelta(seconds=8)


def test_decide_uses_the_policy_delay_for_this_attempt() -> None:
    policy = RetryPolicy(jitter=False)
    for attempt, expected in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)]:
        decision = decide(transient(), attempt, policy, NOW, random.Random(0))
        assert decision.delay_s == expected


@pytest.mark.parametrize(
    ("error", "attempt", "status"),
    [
        (transient(), 5, JobStatus.FAILED),  # attempts exhausted
        (transient(10.0), 5, JobStatus.FAILED),
        (transient(), 6, JobStatus.FAILED),
        (PermanentPublishError("http_422", "bad post", http_status=422), 1, JobStatus.FAILED),
        (PermanentPublishError("http_400", "bad post", http_status=400), 4, JobStatus.FAILED),
        (PublishError("weird", "unknown failure"), 1, JobStatus.FAILED),
        (AuthExpiredError("unauthorized", "refused", http_status=401), 1, JobStatus.WAITING_AUTH),
        (AuthExpiredError("unauthorized", "refused", http_status=401), 5, JobStatus.WAITING_AUTH),
    ],
    ids=[
        "transient-at-max",
        "transient-at-max-with-retry-after",
        "transient-past-max",
        "permanent-422",
        "permanent-400",
        "base-publish-error",
        "auth-first-attempt",
        "auth-last-attempt",
    ],
)
def test_decisions_that_do_not_retry(error: PublishError, attempt: int, status: JobStatus) -> None:
    decision = decide(error, attempt, POLICY, NOW, random.Random(0))
    assert decision == RetryDecision(status, 0.0, None)
    assert decision.final is (status is JobStatus.FAILED)


def test_max_attempts_is_configurable() -> None:
    policy = RetryPolicy(max_attempts=2)
    assert decide(transient(), 1, policy, NOW, random.Random(0)).status is JobStatus.RETRYING
    assert decide(transient(), 2, policy, NOW, random.Random(0)).status is JobStatus.FAILED


@pytest.mark.parametrize("retry_after", [math.inf, 1e12, 1e300])
def test_an_absurd_retry_after_does_not_crash_the_decision(retry_after: float) -> None:
    """A platform's Retry-After must never make ``decide`` raise: it runs in the error path.

    ``retry_after_seconds`` passes such values through (``"inf"``, ``"1e12"``), and
    ``now + timedelta(seconds=delay)`` then raises OverflowError.
    """
    decision = decide(transient(retry_after), 1, POLICY, NOW, random.Random(0))
    assert decision.status is JobStatus.RETRYING
    assert math.isfinite(decision.delay_s)
    assert decision.retry_at is not None
