"""A tenant's queue stats decided from grouped counts (pure: no I/O, takes ``now``).

The database answers with counts per (status, priority) of live jobs and per (minute, status,
priority) of jobs finished in the window; this module fills in the zeros and the totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from herald.common.domain.asset_states import Priority
from herald.common.domain.job_states import TERMINAL, JobStatus

LIVE_STATUSES = tuple(status.value for status in JobStatus if status not in TERMINAL)
FINISHED_STATUSES = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)
"""What throughput counts: published, or given up on. Cancelled and missed jobs are not work
done, so they are not throughput."""
PRIORITIES = tuple(priority.value for priority in Priority)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Tally:
    """Counts of a set of jobs: every status and priority is present, zero when none has it."""

    total: int
    by_status: dict[str, int]
    by_priority: dict[str, int]


@dataclass(frozen=True)
class Bucket:
    minute: datetime  # start of the minute
    succeeded: int
    failed: int


def window_start(now: datetime, minutes: int) -> datetime:
    """Start of the first of ``minutes`` one-minute buckets, the last of which holds ``now``
    (so the last bucket is the minute in progress). The window ends ``minutes`` after."""
    return now.replace(second=0, microsecond=0) - (minutes - 1) * MINUTE


def tally(counts: Iterable[tuple[str, str, int]], statuses: Sequence[str]) -> Tally:
    """Totals from ``(status, priority, count)`` rows; rows of other statuses are ignored."""
    by_status = dict.fromkeys(statuses, 0)
    by_priority = dict.fromkeys(PRIORITIES, 0)
    for status, priority, count in counts:
        if status not in by_status:
            continue
        by_status[status] += count
        by_priority[priority] = by_priority.get(priority, 0) + count
    return Tally(sum(by_status.values()), by_status, by_priority)


def buckets(
    counts: Iterable[tuple[datetime, str, int]], since: datetime, minutes: int
) -> list[Bucket]:
    """One bucket per minute from ``since``, from ``(minute, status, count)`` rows; a row
    outside the window (a clock ahead of ours) or of another status is left out."""
    tallies = {since + n * MINUTE: dict.fromkeys(FINISHED_STATUSES, 0) for n in range(minutes)}
    for minute, status, count in counts:
        bucket = tallies.get(minute)
        if bucket is not None and status in bucket:
            bucket[status] += count
    return [
        Bucket(minute, bucket[JobStatus.SUCCEEDED], bucket[JobStatus.FAILED])
        for minute, bucket in tallies.items()
    ]


@dataclass(frozen=True)
class QueueStats:
    """What ``GET /v1/queue/stats`` answers (its fields are the response's)."""

    as_of: datetime
    window_minutes: int
    since: datetime
    live: Tally
    oldest_queued_age_s: float
    finished: Tally
    finished_per_minute: float
    throughput: list[Bucket]


def summarize(
    live: Iterable[tuple[str, str, int]],
    oldest_requested_at: datetime | None,
    finished: Sequence[tuple[datetime, str, str, int]],
    now: datetime,
    minutes: int,
) -> QueueStats:
    """The stats from live ``(status, priority, count)`` rows and finished ``(minute, status,
    priority, count)`` rows of the window that ``window_start(now, minutes)`` begins."""
    since = window_start(now, minutes)
    done = tally(((s, p, n) for _, s, p, n in finished), FINISHED_STATUSES)
    return QueueStats(
        as_of=now,
        window_minutes=minutes,
        since=since,
        live=tally(live, LIVE_STATUSES),
        oldest_queued_age_s=round(oldest_queued_age_s(oldest_requested_at, now), 3),
        finished=done,
        finished_per_minute=round(done.total / minutes, 2),
        throughput=buckets(((m, s, n) for m, s, _, n in finished), since, minutes),
    )


def oldest_queued_age_s(oldest_requested_at: datetime | None, now: datetime) -> float:
    """Seconds the longest-waiting queued job has waited since it was last requested (as the
    recovery service's ``herald_oldest_queued_job_age_seconds``); 0 when none is queued."""
    if oldest_requested_at is None:
        return 0.0
    return max(0.0, (now - oldest_requested_at).total_seconds())
