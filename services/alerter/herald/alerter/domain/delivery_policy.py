"""When a webhook delivery is retried, and when it is given up. Pure; takes ``now``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

DEFAULT_SCHEDULE = "5,300,1800,7200,18000,36000,36000"
"""Svix's schedule: the first try at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
(eight tries over about a day and a half)."""

RETRY_AFTER_STATUSES = frozenset({429, 503})


class TryOutcome(StrEnum):
    """How one try ended (``webhook_delivery_attempts.outcome``)."""

    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # another status, a network error or a timeout
    REFUSED = "refused"  # not sent: the URL or its addresses are forbidden (SSRF guard)


class Verdict(StrEnum):
    DELIVERED = "delivered"  # done
    RETRY = "retry"  # try again at ``retry_at``
    GIVE_UP = "give_up"  # the schedule ran out: the delivery fails for good


@dataclass(frozen=True)
class RetrySchedule:
    """Delays in seconds before the 2nd, 3rd, … try; one try more than there are delays."""

    delays_s: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.delays_s or any(d < 0 for d in self.delays_s):
            raise ValueError("needs at least one delay, each >= 0 seconds")

    @classmethod
    def parse(cls, text: str) -> RetrySchedule:
        """``"5,300,1800"`` → three delays; raises ``ValueError`` naming the bad item."""
        delays = []
        for item in (part.strip() for part in text.split(",")):
            try:
                delays.append(float(item))
            except ValueError:
                raise ValueError(f"{item!r} is not a number of seconds") from None
        return cls(tuple(delays))

    @property
    def max_tries(self) -> int:
        return len(self.delays_s) + 1

    @property
    def max_delay_s(self) -> float:
        return max(self.delays_s)


@dataclass(frozen=True)
class TryResult:
    """What one try came back with: an HTTP status, or the error that stopped it."""

    http_status: int | None = None
    error: str | None = None  # network error or timeout: nothing (or no answer) came back
    refused: str | None = None  # the SSRF guard's reason; nothing was sent
    retry_after: str | None = None  # the response's Retry-After header

    @property
    def outcome(self) -> TryOutcome:
        if self.refused is not None:
            return TryOutcome.REFUSED
        ok = self.http_status is not None and 200 <= self.http_status < 300
        return TryOutcome.DELIVERED if ok else TryOutcome.FAILED


@dataclass(frozen=True)
class DeliveryDecision:
    verdict: Verdict
    outcome: TryOutcome  # of the try just made
    retry_at: datetime | None = None  # set when RETRY


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def decide(
    tries: int, result: TryResult, now: datetime, schedule: RetrySchedule
) -> DeliveryDecision:
    """What happens to a delivery after its ``tries``-th try (1-based) came back ``result``.

    2xx is delivered. Anything else — another status, a network error, a refusal by the SSRF
    guard (the operator may still fix the DNS) — is retried after the schedule's next delay,
    or given up once the schedule ran out. A 429 or 503 asking for a longer wait gets it, up to
    the schedule's longest delay.
    """
    outcome = result.outcome
    if outcome is TryOutcome.DELIVERED:
        return DeliveryDecision(Verdict.DELIVERED, outcome)
    if tries >= schedule.max_tries:
        return DeliveryDecision(Verdict.GIVE_UP, outcome)
    delay = schedule.delays_s[max(0, tries - 1)]
    if result.http_status in RETRY_AFTER_STATUSES:
        asked = retry_after_s(result.retry_after, now)
        if asked is not None and asked > delay:
            delay = max(delay, min(asked, schedule.max_delay_s))
    return DeliveryDecision(Verdict.RETRY, outcome, now + timedelta(seconds=delay))
