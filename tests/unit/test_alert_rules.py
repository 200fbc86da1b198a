"""Threshold rules over a snapshot of the fleet (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from herald.alerter.domain.policy import AlertPolicy
from herald.alerter.domain.publish_alerts import alert_for_failure
from herald.alerter.domain.rules import (
    FailureRate,
    FleetSnapshot,
    Heartbeat,
    evaluate,
    resolves_quietly,
)
from herald.alerter.domain.severity import Severity
from herald.common.events import PublishFailed

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = AlertPolicy()
TENANT = uuid.uuid4()


def _keys(snapshot: FleetSnapshot) -> dict[str, Severity]:
    return {c.dedup_key: c.severity for c in evaluate(snapshot, NOW, POLICY)}


def test_a_quiet_healthy_fleet_holds_no_condition() -> None:
    beats = (Heartbeat("publisher", "a", NOW - timedelta(seconds=2)),)
    assert evaluate(FleetSnapshot(heartbeats=beats), NOW, POLICY) == []


@pytest.mark.parametrize(
    ("age_s", "expected"),
    [(299, None), (300, Severity.WARNING), (1199, Severity.WARNING), (1200, Severity.ERROR)],
)
def test_oldest_queued_job(age_s: float, expected: Severity | None) -> None:
    snapshot = FleetSnapshot(oldest_queued_at=NOW - timedelta(seconds=age_s), queued=4)
    assert _keys(snapshot).get("rule:oldest_queued") == expected


def test_jobs_stuck_in_processing() -> None:
    assert _keys(FleetSnapshot(stuck_processing=2)) == {"rule:stuck_processing": Severity.ERROR}


def test_a_stopped_heartbeat_is_a_warning_while_a_replica_serves_and_an_error_when_none() -> None:
    alive = Heartbeat("publisher", "a", NOW - timedelta(seconds=5))
    dead = Heartbeat("publisher", "b", NOW - timedelta(seconds=31))
    lone = Heartbeat("recovery", "c", NOW - timedelta(seconds=90))
    assert _keys(FleetSnapshot(heartbeats=(alive, dead, lone))) == {
        "rule:heartbeat:publisher:b": Severity.WARNING,
        "rule:heartbeat:recovery:c": Severity.ERROR,
    }


@pytest.mark.parametrize(
    ("attempts", "failures", "channels", "holds"),
    [
        (20, 20, 3, True),
        (10, 5, 3, True),  # exactly the threshold and the minimum
        (9, 9, 3, False),  # too few attempts
        (20, 9, 3, False),  # under half failing
        (20, 20, 2, False),  # two channels failing is theirs, not the platform's
    ],
)
def test_a_platform_failing_across_a_tenants_channels(
    attempts: int, failures: int, channels: int, holds: bool
) -> None:
    rate = FailureRate(TENANT, "sandbox", attempts, failures, channels)
    conditions = evaluate(FleetSnapshot(platform_rates=(rate,)), NOW, POLICY)
    assert bool(conditions) is holds
    if holds:
        (condition,) = conditions
        assert (condition.dedup_key, condition.tenant_id, condition.platform) == (
            "platform_failing:sandbox",
            TENANT,
            "sandbox",
        )
        assert condition.category == "platform"


def test_quiet_resolution_after_the_quiet_time() -> None:
    assert not resolves_quietly("publish_failed", NOW - timedelta(seconds=1799), NOW, POLICY)
    assert resolves_quietly("publish_failed", NOW - timedelta(seconds=1800), NOW, POLICY)


def test_a_channel_needing_reauthorization_never_goes_quiet() -> None:
    assert not resolves_quietly("channel_auth", NOW - timedelta(days=7), NOW, POLICY)


def test_a_job_parked_for_refused_credentials_raises_no_failure_alert() -> None:
    def failure(error_class: str, final: bool) -> PublishFailed:
        return PublishFailed(
            job_id=TENANT,
            asset_id=TENANT,
            channel_id=TENANT,
            platform="sandbox",
            error_class=error_class,
            error_code="http_401",
            message="expired",
            attempt=1,
            final=final,
        )

    assert alert_for_failure(failure("auth", final=False)) is None  # channel.auth_failed's
    draft = alert_for_failure(failure("auth", final=True))
    assert draft is not None and draft.severity is Severity.ERROR
    transient = alert_for_failure(failure("transient", final=False))
    assert transient is not None and transient.severity is Severity.WARNING
