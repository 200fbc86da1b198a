"""Queue stats decided from grouped counts: zeros filled in, windows aligned on minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from herald.api.domain import queue_stats
from herald.api.domain.queue_stats import Bucket

NOW = datetime(2026, 12, 1, 12, 7, 42, 500_000, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("minutes", "start"),
    [
        (1, datetime(2026, 12, 1, 12, 7, tzinfo=UTC)),
        (15, datetime(2026, 12, 1, 11, 53, tzinfo=UTC)),
        (60, datetime(2026, 12, 1, 11, 8, tzinfo=UTC)),
    ],
)
def test_the_window_is_whole_minutes_ending_with_the_one_in_progress(
    minutes: int, start: datetime
) -> None:
    assert queue_stats.window_start(NOW, minutes) == start


def test_live_counts_have_every_live_status_and_priority_and_ignore_terminal_rows() -> None:
    tally = queue_stats.tally(
        [
            ("queued", "high", 2),
            ("queued", "normal", 3),
            ("processing", "low", 1),
            ("succeeded", "normal", 50),  # not live: left out
        ],
        queue_stats.LIVE_STATUSES,
    )
    assert tally.by_status == {
        "scheduled": 0,
        "queued": 5,
        "processing": 1,
        "retrying": 0,
        "waiting_auth": 0,
        "uncertain": 0,
    }
    assert tally.by_priority == {"high": 2, "normal": 3, "low": 1}
    assert tally.total == 6


def test_a_priority_outside_the_known_three_is_still_counted() -> None:
    tally = queue_stats.tally([("failed", "urgent", 1)], queue_stats.FINISHED_STATUSES)
    assert tally.by_priority == {"high": 0, "normal": 0, "low": 0, "urgent": 1}
    assert tally.by_status == {"succeeded": 0, "failed": 1}


def test_buckets_cover_every_minute_oldest_first_with_zeros_and_nothing_outside() -> None:
    since = queue_stats.window_start(NOW, 3)
    rows = [
        (since, "succeeded", 4),
        (since, "failed", 1),
        (since + 2 * MINUTE, "succeeded", 7),
        (since + 2 * MINUTE, "succeeded", 1),  # another priority's row of the same minute
        (since + 3 * MINUTE, "succeeded", 9),  # a clock ahead of ours: outside the window
        (since - MINUTE, "failed", 9),
        (since + MINUTE, "cancelled", 5),  # not throughput
    ]
    assert queue_stats.buckets(rows, since, 3) == [
        Bucket(since, 4, 1),
        Bucket(since + MINUTE, 0, 0),
        Bucket(since + 2 * MINUTE, 8, 0),
    ]


def test_the_oldest_queued_age_is_zero_without_queued_jobs_and_never_negative() -> None:
    assert queue_stats.oldest_queued_age_s(None, NOW) == 0.0
    assert queue_stats.oldest_queued_age_s(NOW - timedelta(seconds=42.5), NOW) == 42.5
    assert queue_stats.oldest_queued_age_s(NOW + timedelta(seconds=1), NOW) == 0.0


def test_summarize_puts_it_together() -> None:
    since = queue_stats.window_start(NOW, 2)
    stats = queue_stats.summarize(
        live=[("scheduled", "normal", 4), ("queued", "high", 1)],
        oldest_requested_at=NOW - timedelta(seconds=9),
        finished=[
            (since, "succeeded", "normal", 3),
            (since + MINUTE, "succeeded", "high", 2),
            (since + MINUTE, "failed", "normal", 1),
        ],
        now=NOW,
        minutes=2,
    )
    assert (stats.as_of, stats.since, stats.window_minutes) == (NOW, since, 2)
    assert stats.live.total == 5
    assert stats.live.by_priority == {"high": 1, "normal": 4, "low": 0}
    assert stats.oldest_queued_age_s == 9.0
    assert stats.finished.by_status == {"succeeded": 5, "failed": 1}
    assert stats.finished.by_priority == {"high": 2, "normal": 4, "low": 0}
    assert stats.finished_per_minute == 3.0
    assert stats.throughput == [Bucket(since, 3, 0), Bucket(since + MINUTE, 2, 1)]
