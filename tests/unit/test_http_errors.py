"""Tests of herald.publisher.adapters.platforms.http_errors: HTTP answers → publish errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from herald.publisher.adapters.platforms.http_errors import (
    classify_response,
    classify_transport,
    retry_after_seconds,
)
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def http_date(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1", 1.0),
        ("2.5", 2.5),
        (" 30 ", 30.0),
        (http_date(NOW + timedelta(seconds=90)), 90.0),
        (http_date(NOW + timedelta(hours=1)), 3600.0),
        (http_date(NOW - timedelta(seconds=90)), 0.0),  # already past
        (http_date(NOW), 0.0),
        ("Wed, 01 Jan 2025 12:00:45 -0000", 45.0),  # no zone → UTC
        ("Wed, 01 Jan 2025 13:00:45 +0100", 45.0),  # explicit offset honoured
    ],
)
def test_retry_after_seconds_reads_seconds_and_http_dates(header: str, seconds: float) -> None:
    result = retry_after_seconds(header, NOW)
    assert result is not None
    assert isinstance(result, float)
    assert result == pytest.approx(seconds)


@pytest.mark.parametrize(
    "header", [None, "", "soon", "12abc", "Mon, 99 Foo 2025", "1 minute", "-5"]
)
def test_retry_after_seconds_is_none_when_absent_or_unreadable(header: str | None) -> None:
    assert retry_after_seconds(header, NOW) is None


def test_retry_after_http_date_depends_on_now() -> None:
    header = http_date(NOW + timedelta(seconds=100))
    assert retry_after_seconds(header, NOW + timedelta(seconds=40)) == pytest.approx(60.0)
    assert retry_after_seconds(header, NOW + timedelta(seconds=400)) == 0.0


@pytest.mark.parametrize("header", ["inf", "Infinity", "1e400", "nan", "-inf"])
def test_retry_after_seconds_never_returns_a_non_finite_delay(header: str) -> None:
    """RFC 9110 delay-seconds is 1*DIGIT; "inf" must not become an infinite wait.

    An infinite value makes ``retry_policy.decide`` raise OverflowError.
    """
    result = retry_after_seconds(header, NOW)
    assert result is None or math.isfinite(result)


@pytest.mark.parametrize(
    ("status", "error_type", "error_class", "code"),
    [
        (401, AuthExpiredError, "auth", "unauthorized"),
        (429, TransientPublishError, "transient", "rate_limited"),
        (408, TransientPublishError, "transient", "http_408"),
        (500, TransientPublishError, "transient", "http_500"),
        (502, TransientPublishError, "transient", "http_502"),
        (503, TransientPublishError, "transient", "http_503"),
        (504, TransientPublishError, "transient", "http_504"),
        (400, PermanentPublishError, "permanent", "http_400"),
        (403, PermanentPublishError, "permanent", "http_403"),
        (404, PermanentPublishError, "permanent", "http_404"),
        (409, PermanentPublishError, "permanent", "http_409"),
        (422, PermanentPublishError, "permanent", "http_422"),
    ],
)
def test_classify_response_table(
    status: int, error_type: type[PublishError], error_class: str, code: str
) -> None:
    error = classify_response(status, None, NOW)
    assert type(error) is error_type
    assert error.error_class == error_class
    assert error.code == code
    assert error.http_status == status
    assert error.message
    assert str(error) == error.message


def test_429_carries_the_retry_after() -> None:
    error = classify_response(429, "17", NOW)
    assert isinstance(error, TransientPublishError)
    assert error.retry_after_s == 17.0


def test_429_with_an_http_date_retry_after() -> None:
    error = classify_response(429, http_date(NOW + timedelta(seconds=42)), NOW)
    assert isinstance(error, TransientPublishError)
    assert error.retry_after_s == pytest.approx(42.0)


@pytest.mark.parametrize("status", [429, 503])
def test_transient_without_retry_after_has_none(status: int) -> None:
    error = classify_response(status, None, NOW)
    assert isinstance(error, TransientPublishError)
    assert error.retry_after_s is None


def test_503_carries_the_retry_after() -> None:
    error = classify_response(503, "5", NOW)
    assert isinstance(error, TransientPublishError)
    assert error.retry_after_s == 5.0


@pytest.mark.parametrize("status", [401, 400, 422])
def test_retry_after_is_ignored_where_retrying_cannot_help(status: int) -> None:
    error = classify_response(status, "5", NOW)
    assert not isinstance(error, TransientPublishError)


REQUEST = httpx.Request("POST", "http://platform.test/posts")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (httpx.ConnectTimeout("connect timed out", request=REQUEST), "timeout"),
        (httpx.ReadTimeout("read timed out", request=REQUEST), "timeout"),
        (httpx.WriteTimeout("write timed out", request=REQUEST), "timeout"),
        (httpx.PoolTimeout("pool timed out", request=REQUEST), "timeout"),
        (httpx.ConnectError("connection refused", request=REQUEST), "network_error"),
        (httpx.ReadError("connection reset", request=REQUEST), "network_error"),
        (httpx.RemoteProtocolError("server hung up", request=REQUEST), "network_error"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_classify_transport(error: httpx.HTTPError, code: str) -> None:
    result = classify_transport(error)
    assert type(result) is TransientPublishError
    assert result.code == code
    assert result.error_class == "transient"
    assert result.http_status is None
    assert result.retry_after_s is None
    assert result.message == f"{type(error).__name__}: {error}"


def test_a_lost_database_connection_is_unavailability_not_a_bug() -> None:
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from herald.api.problems import database_unavailable

    class StartingUp(Exception):
        sqlstate = "57P03"

    lost = DBAPIError("SELECT 1", {}, ConnectionResetError(), connection_invalidated=True)
    assert database_unavailable(lost)
    assert database_unavailable(DBAPIError("SELECT 1", {}, StartingUp()))
    assert database_unavailable(DBAPIError("SELECT 1", {}, ConnectionRefusedError()))
    assert database_unavailable(PoolTimeout())
    assert database_unavailable(ConnectionRefusedError())
    assert not database_unavailable(DBAPIError("SELECT 1", {}, ValueError("bad")))
    assert not database_unavailable(TimeoutError())  # a NATS or wait_for timeout is a bug here
    assert not database_unavailable(KeyError("bug"))
