"""Token buckets for platform rate limits (pure; the state lives in PostgreSQL, shared by
every publisher replica, so replicas together never exceed a channel's limit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from herald.common.platforms import RateLimit


class RateLimited(Exception):
    """No token now: come back in ``wait_s``; the job is not claimed and no attempt is used."""

    def __init__(self, platform: str, wait_s: float):
        super().__init__(f"{platform}: next token in {wait_s:.2f}s")
        self.platform, self.wait_s = platform, wait_s


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated_at: datetime


@dataclass(frozen=True)
class Take:
    allowed: bool
    wait_s: float  # 0 when allowed; else until the next token
    bucket: Bucket  # the state to store


def refill(bucket: Bucket | None, limit: RateLimit, now: datetime) -> Bucket:
    """A new bucket starts full; tokens accrue at the limit's rate up to its burst."""
    if bucket is None:
        return Bucket(float(limit.burst), now)
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    rate = limit.per_period / limit.period_s
    return Bucket(min(float(limit.burst), bucket.tokens + elapsed * rate), now)


def take(bucket: Bucket | None, limit: RateLimit, now: datetime) -> Take:
    """Take one token if there is one; otherwise say how long until there will be."""
    current = refill(bucket, limit, now)
    if current.tokens >= 1.0:
        return Take(True, 0.0, Bucket(current.tokens - 1.0, now))
    rate = limit.per_period / limit.period_s
    return Take(False, (1.0 - current.tokens) / rate, current)
