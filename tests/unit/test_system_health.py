"""The system health rule: what each check's reading means, and how the worst decides."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from herald.api.domain import health
from herald.api.domain.health import IF_MISSING, Check, Health, Probe
from herald.api.service_layer.system_health import timed

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OK = Probe(1.5)
STALE_S = 15.0


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def fleet(**overrides: list[float]) -> list[tuple[str, datetime]]:
    """One fresh instance of every service, unless ``overrides`` gives a service's ages."""
    ages = {service: [1.0] for service in IF_MISSING} | overrides
    return [(service, ago(age)) for service, seen in ages.items() for age in seen]


def statuses(checks: list[Check]) -> dict[str, Health]:
    return {check.name: check.status for check in checks}


def test_the_stale_threshold_is_a_number_of_missed_heartbeat_intervals() -> None:
    assert health.stale_after_s(5.0, 3.0) == 15.0
    assert health.stale_after_s(0.5, 4.0) == 2.0


@pytest.mark.parametrize(
    ("probe", "status"),
    [(Probe(0.8), Health.HEALTHY), (Probe(2000.0, "timed out after 2 s"), Health.UNHEALTHY)],
)
def test_a_dependency_that_answers_is_healthy_and_one_that_does_not_is_unhealthy(
    probe: Probe, status: Health
) -> None:
    check = health.dependency("postgresql", probe)
    assert (check.name, check.kind, check.status) == ("postgresql", "dependency", status)
    assert check.response_time_ms == probe.elapsed_ms
    assert check.detail == probe.error


def test_every_expected_service_is_reported_healthy_with_a_fresh_instance() -> None:
    checks = health.services(fleet(), OK, NOW, STALE_S)
    assert statuses(checks) == dict.fromkeys(IF_MISSING, Health.HEALTHY)
    assert all(c.instances == 1 and c.stale_instances == 0 and c.detail is None for c in checks)
    assert all(c.kind == "service" and c.response_time_ms == 1.5 for c in checks)


@pytest.mark.parametrize(
    ("service", "status"),
    [
        ("publisher", Health.UNHEALTHY),  # nothing publishes
        ("api", Health.DEGRADED),
        ("alerter", Health.DEGRADED),
        ("recovery", Health.DEGRADED),
    ],
)
@pytest.mark.parametrize("ages", [[], [15.1], [60.0, 3600.0]], ids=["none", "stale", "all stale"])
def test_a_service_without_a_fresh_instance_takes_its_missing_status(
    service: str, status: Health, ages: list[float]
) -> None:
    checks = health.services(fleet(**{service: ages}), OK, NOW, STALE_S)
    assert statuses(checks) == dict.fromkeys(IF_MISSING, Health.HEALTHY) | {service: status}
    (missing,) = [c for c in checks if c.name == service]
    assert (missing.instances, missing.stale_instances) == (0, len(ages))
    assert missing.detail is not None
    assert health.overall(checks) is status


def test_a_heartbeat_exactly_at_the_threshold_still_counts() -> None:
    (publisher,) = [
        c
        for c in health.services(fleet(publisher=[15.0]), OK, NOW, STALE_S)
        if c.name == "publisher"
    ]
    assert publisher.status is Health.HEALTHY


def test_one_fresh_instance_is_enough_and_stale_ones_beside_it_are_only_mentioned() -> None:
    """A crashed replica's row stays behind until the alerter forgets it (an hour): its
    replacement running is what matters here; the alerter reports the silent one."""
    checks = health.services(fleet(publisher=[2.0, 40.0, 500.0]), OK, NOW, STALE_S)
    (publisher,) = [c for c in checks if c.name == "publisher"]
    assert publisher.status is Health.HEALTHY
    assert (publisher.instances, publisher.stale_instances) == (1, 2)
    assert publisher.last_seen_s_ago == 2.0
    assert publisher.detail == "1 running, 2 stale"


def test_unknown_services_are_ignored_and_a_clock_ahead_is_not_a_negative_age() -> None:
    beats = [*fleet(), ("sandbox", ago(1000)), ("api", NOW + timedelta(seconds=3))]
    checks = health.services(beats, OK, NOW, STALE_S)
    assert [c.name for c in checks] == list(IF_MISSING)
    (api,) = [c for c in checks if c.name == "api"]
    assert api.instances == 2
    assert api.last_seen_s_ago == 0.0


def test_unreadable_heartbeats_count_as_every_service_missing() -> None:
    probe = Probe(2001.0, "timed out after 2 s")
    checks = health.services(None, probe, NOW, STALE_S)
    assert statuses(checks) == dict(IF_MISSING)
    assert all(c.detail == "heartbeats unreadable: timed out after 2 s" for c in checks)
    assert health.overall(checks) is Health.UNHEALTHY


@pytest.mark.parametrize(
    ("states", "status", "detail"),
    [
        ({}, Health.HEALTHY, None),
        ({"ok": 4}, Health.HEALTHY, None),
        ({"ok": 3, "reauth_required": 1}, Health.DEGRADED, "1 of 4 channels need attention"),
        ({"reauth_required": 2, "ok": 0}, Health.DEGRADED, "2 of 2 channels need attention"),
        ({"ok": 1, "refresh_failed": 1, "reauth_required": 2}, Health.DEGRADED, "3 of 4 channels"),
    ],
)
def test_any_channel_whose_authorization_is_not_ok_degrades(
    states: dict[str, int], status: Health, detail: str | None
) -> None:
    check = health.channels(states, OK)
    assert (check.name, check.kind, check.status) == ("channels", "channels", status)
    assert check.channels == sum(states.values())
    assert check.channels_not_ok == {s: n for s, n in states.items() if s != "ok" and n}
    if detail is None:
        assert check.detail is None
    else:
        assert check.detail is not None and check.detail.startswith(detail)


def test_the_channel_detail_names_counts_by_state_and_nothing_else() -> None:
    check = health.channels({"ok": 1, "reauth_required": 2, "expired": 1}, OK)
    assert check.detail == "3 of 4 channels need attention (expired: 1, reauth_required: 2)"


def test_unreadable_channels_degrade() -> None:
    check = health.channels(None, Probe(2000.0, "timed out after 2 s"))
    assert check.status is Health.DEGRADED
    assert check.detail == "unreadable: timed out after 2 s"


def _check(status: Health) -> Check:
    return Check("x", "dependency", status, 1.0)


@pytest.mark.parametrize(
    ("parts", "whole"),
    [
        ([], Health.HEALTHY),
        ([Health.HEALTHY, Health.HEALTHY], Health.HEALTHY),
        ([Health.HEALTHY, Health.DEGRADED], Health.DEGRADED),
        ([Health.DEGRADED, Health.UNHEALTHY, Health.HEALTHY], Health.UNHEALTHY),
        ([Health.UNHEALTHY, Health.DEGRADED], Health.UNHEALTHY),
    ],
)
def test_the_worst_check_decides_the_whole(parts: list[Health], whole: Health) -> None:
    assert health.overall([_check(s) for s in parts]) is whole


@pytest.mark.parametrize(
    ("whole", "code"),
    [(Health.HEALTHY, 200), (Health.DEGRADED, 200), (Health.UNHEALTHY, 503)],
)
def test_only_unhealthy_is_503(whole: Health, code: int) -> None:
    assert health.http_status(whole) == code


async def test_a_probe_that_hangs_fails_at_its_deadline() -> None:
    async def hang() -> None:
        await asyncio.sleep(30)

    started = time.perf_counter()
    value, probe = await timed("test_hang", hang, 0.05)
    assert time.perf_counter() - started < 1.0
    assert value is None
    assert probe.error == "timed out after 0.05 s"
    assert probe.elapsed_ms >= 50


async def test_a_probe_that_fails_is_named_by_its_class_and_one_that_answers_gives_its_value() -> (
    None
):
    async def refuse() -> None:
        raise ConnectionRefusedError("connect call failed ('10.0.0.7', 5432)")

    async def answer() -> int:
        return 7

    assert (await timed("test_refuse", refuse, 1.0))[1].error == "ConnectionRefusedError"
    value, probe = await timed("test_answer", answer, 1.0)
    assert (value, probe.error) == (7, None)


async def test_a_timeout_the_probe_raises_itself_is_not_mistaken_for_the_deadline() -> None:
    async def flush_timeout() -> None:
        raise TimeoutError

    assert (await timed("test_own_timeout", flush_timeout, 1.0))[1].error == "TimeoutError"
