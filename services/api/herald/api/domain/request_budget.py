"""The per-API-key request budget: a token bucket kept as GCRA (pure).

A bucket of ``burst`` tokens refills at ``rate_per_s``; each request takes one. GCRA stores the
same bucket as one time, the theoretical arrival time (TAT): the moment the bucket would be full
again. A request is admitted when, after taking its token, the TAT is at most ``burst``
intervals ahead of now. One timestamp per key is what lets a single SQL statement admit a request
atomically for every API replica (``adapters.request_budget_store`` encodes this same rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Budget:
    """``rate_per_s`` requests per second on average, ``burst`` at once; either 0 disables it."""

    rate_per_s: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0 and self.burst > 0

    @property
    def interval(self) -> timedelta:
        """The time one token takes to refill (microsecond resolution, as PostgreSQL stores)."""
        return timedelta(seconds=1 / self.rate_per_s)

    @property
    def capacity(self) -> timedelta:
        """How far ahead of now the TAT may run: the time a full bucket takes to refill."""
        return self.interval * self.burst


@dataclass(frozen=True)
class Spend:
    """The decision for one request: ``tat`` is the state to store (unchanged when refused)."""

    allowed: bool
    tat: datetime | None
    remaining: int  # requests the key could still make at once
    retry_after: timedelta  # until a refused request would be admitted; zero when allowed
    reset: timedelta  # until the bucket is full again

    @property
    def retry_after_s(self) -> int:
        """Whole seconds for ``Retry-After`` (at least 1: the header has no fractions)."""
        return max(1, math.ceil(self.retry_after.total_seconds()))


def admit(tat: datetime | None, budget: Budget, now: datetime) -> Spend:
    """Take one token from the bucket whose TAT is ``tat`` (None: never used, so full)."""
    start = max(tat or now, now)  # a TAT in the past is a full bucket
    after = start + budget.interval
    if after - now <= budget.capacity:
        return admitted(after, budget, now)
    return Spend(
        allowed=False,
        tat=tat,
        remaining=0,
        retry_after=after - budget.capacity - now,
        reset=start - now,
    )


def admitted(tat: datetime, budget: Budget, now: datetime) -> Spend:
    """The admission ``admit`` decided, read back from the TAT it stored (``tat``)."""
    return Spend(
        allowed=True,
        tat=tat,
        remaining=max(0, (budget.capacity - (tat - now)) // budget.interval),
        retry_after=timedelta(0),
        reset=tat - now,
    )


def headers(spend: Spend, budget: Budget) -> dict[str, str]:
    """``RateLimit-*`` headers (the IETF draft's first form) and ``Retry-After`` on a refusal."""
    values = {
        "RateLimit-Limit": str(budget.burst),
        "RateLimit-Remaining": str(spend.remaining),
        "RateLimit-Reset": str(max(0, math.ceil(spend.reset.total_seconds()))),
    }
    if not spend.allowed:
        values["Retry-After"] = str(spend.retry_after_s)
    return values
