"""Platform rate limits as GCRA with reservations (pure; the state lives in PostgreSQL and is
shared by every publisher replica, so replicas together never exceed a channel's limit).

The bucket keeps one time, the theoretical arrival time (TAT) of the next request. A request
is admitted when TAT is at most ``(burst - 1)`` intervals ahead of now; otherwise it *reserves*
the next free slot and is told to come back exactly then. Waiting requests are thus spread one
interval apart instead of all retrying at once, and a returning request holds its slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from herald.common.platforms import RateLimit

SAFETY = 1.05
"""Herald spaces calls 5 % wider than a limit allows, so that jitter between admitting a call
and the platform receiving it never tips a sliding window over the limit."""


@dataclass(frozen=True)
class Bucket:
    tat: datetime | None  # schedule: advanced by every admission and reservation
    sent_tat: datetime | None  # actual admissions only: spaces the calls that really go out


@dataclass(frozen=True)
class Admission:
    allowed: bool
    bucket: Bucket  # the state to store
    slot: datetime | None  # when to come back (not allowed now); a kept or a new reservation

    def wait_s(self, now: datetime) -> float:
        return 0.0 if self.slot is None else max(0.0, (self.slot - now).total_seconds())


def interval(limit: RateLimit) -> timedelta:
    return timedelta(seconds=SAFETY * limit.period_s / limit.per_period)


def admit(
    bucket: Bucket, limit: RateLimit, now: datetime, reserved: datetime | None = None
) -> Admission:
    """Admit a call now, or reserve (or keep) the slot to come back at.

    A newcomer is admitted when the schedule is at most ``burst - 1`` intervals ahead, else it
    reserves the next slot of the schedule. A returning request is admitted once its slot has
    come *and* the calls actually made leave room; one that came back too late to fit takes a
    new slot at the end of the schedule, so it never crowds the request whose slot is next.
    """
    step, tolerance = interval(limit), interval(limit) * (limit.burst - 1)
    tat, sent = max(bucket.tat or now, now), max(bucket.sent_tat or now, now)
    if reserved is not None and now - reserved > step:
        reserved = None  # a reservation long past (its request was lost): start afresh
    if reserved is None and tat - now > tolerance:
        return Admission(False, Bucket(tat + step, sent), tat - tolerance)
    if reserved is not None and reserved > now:
        return Admission(False, Bucket(tat, sent), reserved)  # early: keep the slot
    if reserved is not None and sent - now > tolerance:
        # late, and another call just went out: take a new slot rather than crowd the next one
        return Admission(False, Bucket(tat + step, sent), tat - tolerance)
    new_tat = tat if reserved is not None else tat + step
    return Admission(True, Bucket(new_tat, sent + step), None)
