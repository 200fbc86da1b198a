"""The fleet's gauges decided from raw readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald.recovery.domain.fleet_reading import (
    jobs_by_status,
    live_instances,
    oldest_queued_age_s,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_every_live_status_is_reported_and_terminal_ones_are_not() -> None:
    reported = jobs_by_status({"queued": 3, "succeeded": 10})
    assert reported == {
        "scheduled": 0,
        "queued": 3,
        "processing": 0,
        "retrying": 0,
        "waiting_auth": 0,
        "uncertain": 0,
    }


def test_the_oldest_queued_job_age_is_zero_without_queued_jobs_and_never_negative() -> None:
    assert oldest_queued_age_s(None, NOW) == 0.0
    assert oldest_queued_age_s(NOW - timedelta(seconds=42), NOW) == 42.0
    assert oldest_queued_age_s(NOW + timedelta(seconds=1), NOW) == 0.0  # clock skew


def test_only_fresh_heartbeats_count_and_every_known_service_is_reported() -> None:
    beats = [
        ("publisher", NOW - timedelta(seconds=1)),
        ("publisher", NOW - timedelta(seconds=19)),
        ("publisher", NOW - timedelta(seconds=21)),  # stale: died
        ("alerter", NOW - timedelta(seconds=60)),
    ]
    assert live_instances(beats, NOW, stale_s=20) == {
        "api": 0,
        "publisher": 2,
        "alerter": 0,
        "recovery": 0,
    }
