"""Retry policy: after a failed attempt, retry (and when) or give up. Pure; takes ``now``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from herald.common.domain.job_states import JobStatus
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PublishError,
    TransientPublishError,
)

MAX_DELAY_S = 24 * 3600.0  # whatever a platform says, a retry is never put off beyond a day


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter.

    ``base_s`` (default 1 s) is the first delay, multiplied by ``factor`` (2) per attempt up to
    ``max_s`` (30 s); ``max_attempts`` (5) counts every attempt including the first.
    """

    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0
    max_attempts: int = 5
    jitter: bool = True

    def ceiling(self, attempt: int) -> float:
        """The longest delay after ``attempt`` (1-based) failed."""
        exponent = min(max(0, attempt - 1), 64)  # beyond this the cap applies anyway
        return float(min(self.max_s, self.base_s * self.factor**exponent))

    def next_delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = self.ceiling(attempt)
        return rng.uniform(0, ceiling) if self.jitter else ceiling


@dataclass(frozen=True)
class RetryDecision:
    status: JobStatus  # RETRYING, FAILED or WAITING_AUTH
    delay_s: float  # 0 unless RETRYING
    retry_at: datetime | None

    @property
    def final(self) -> bool:
        return self.status is JobStatus.FAILED


def decide(
    error: PublishError, attempt: int, policy: RetryPolicy, now: datetime, rng: random.Random
) -> RetryDecision:
    """What happens to a job whose ``attempt`` (1-based) failed with ``error``.

    Transient errors retry while attempts are left, never sooner than a platform's
    Retry-After; auth errors park the job until the channel is re-authorized; the rest fail.
    """
    if isinstance(error, AuthExpiredError):
        return RetryDecision(JobStatus.WAITING_AUTH, 0.0, None)
    if not isinstance(error, TransientPublishError) or attempt >= policy.max_attempts:
        return RetryDecision(JobStatus.FAILED, 0.0, None)
    delay = min(MAX_DELAY_S, max(policy.next_delay(attempt, rng), error.retry_after_s or 0.0))
    return RetryDecision(JobStatus.RETRYING, delay, now + timedelta(seconds=delay))
