"""Tests of herald.alerter.domain.delivery_policy: retry, give up, Retry-After (table-driven)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from herald.alerter.domain.delivery_policy import (
    DEFAULT_SCHEDULE,
    DeliveryDecision,
    RetrySchedule,
    TryOutcome,
    TryResult,
    Verdict,
    decide,
    retry_after_s,
)
from herald.alerter.settings import AlerterSettings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SCHEDULE = RetrySchedule.parse("5,300,1800")  # four tries


DONE, RETRY, GIVE_UP = Verdict.DELIVERED, Verdict.RETRY, Verdict.GIVE_UP
OK, FAILED, REFUSED = TryOutcome.DELIVERED, TryOutcome.FAILED, TryOutcome.REFUSED
HTTP_DATE = "Tue, 01 Dec 2026 12:02:00 GMT"  # NOW + 120 s


@pytest.mark.parametrize(
    ("tries", "result", "verdict", "outcome", "retry_in_s"),
    [
        (1, TryResult(200), DONE, OK, None),
        (4, TryResult(204), DONE, OK, None),
        (1, TryResult(500), RETRY, FAILED, 5),
        (2, TryResult(500), RETRY, FAILED, 300),
        (3, TryResult(404), RETRY, FAILED, 1800),
        (4, TryResult(500), GIVE_UP, FAILED, None),
        (1, TryResult(302), RETRY, FAILED, 5),  # redirects are not followed
        (1, TryResult(199), RETRY, FAILED, 5),
        (1, TryResult(error="ConnectError"), RETRY, FAILED, 5),
        (4, TryResult(error="timeout"), GIVE_UP, FAILED, None),
        (1, TryResult(refused="loopback"), RETRY, REFUSED, 5),  # the operator may fix the DNS
        (4, TryResult(refused="loopback"), GIVE_UP, REFUSED, None),
        # Retry-After counts on 429/503 when longer than the schedule, capped at its longest delay
        (1, TryResult(429, retry_after="60"), RETRY, FAILED, 60),
        (1, TryResult(503, retry_after="2"), RETRY, FAILED, 5),
        (1, TryResult(503, retry_after="99999"), RETRY, FAILED, 1800),
        (1, TryResult(500, retry_after="60"), RETRY, FAILED, 5),
        (1, TryResult(429, retry_after="soon"), RETRY, FAILED, 5),
        (1, TryResult(429, retry_after=HTTP_DATE), RETRY, FAILED, 120),
        (4, TryResult(429, retry_after="60"), GIVE_UP, FAILED, None),
    ],
)
def test_decide(
    tries: int, result: TryResult, verdict: Verdict, outcome: TryOutcome, retry_in_s: float | None
) -> None:
    retry_at = None if retry_in_s is None else NOW + timedelta(seconds=retry_in_s)
    assert decide(tries, result, NOW, SCHEDULE) == DeliveryDecision(verdict, outcome, retry_at)


def test_default_schedule_tries_eight_times_over_a_day_and_a_half() -> None:
    schedule = RetrySchedule.parse(DEFAULT_SCHEDULE)
    assert schedule.max_tries == 8
    assert sum(schedule.delays_s) == pytest.approx(27.4 * 3600, rel=0.01)
    retry_at, tries = NOW, 0
    while True:
        tries += 1
        decision = decide(tries, TryResult(500), retry_at, schedule)
        if decision.verdict is Verdict.GIVE_UP:
            break
        assert decision.retry_at is not None
        retry_at = decision.retry_at
    assert tries == 8
    assert timedelta(hours=27) < retry_at - NOW < timedelta(hours=28)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("-5", None),
        ("1.5", None),
        ("Tue, 01 Dec 2026 12:00:30 GMT", 30.0),
        ("Tue, 01 Dec 2026 11:00:00 GMT", 0.0),
        ("not a date", None),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_s(header, NOW) == seconds


@pytest.mark.parametrize("text", ["", "5,,10", "5,-1", "abc", " , "])
def test_a_bad_schedule_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"seconds|delay"):
        RetrySchedule.parse(text)


def test_the_schedule_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HERALD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HERALD_WEBHOOK_RETRY_SCHEDULE_S", "5,soon")
    with pytest.raises(ValidationError, match="webhook_retry_schedule_s") as error:
        AlerterSettings()
    assert "'soon' is not a number of seconds" in str(error.value)
    monkeypatch.setenv("HERALD_WEBHOOK_RETRY_SCHEDULE_S", "0.2,0.2")
    assert AlerterSettings().webhook_retry_schedule == RetrySchedule((0.2, 0.2))


def test_the_claim_must_outlast_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="HERALD_WEBHOOK_TIMEOUT_S"):
        AlerterSettings(webhook_timeout_s=30, webhook_claim_s=20)
