"""Idempotency-Key rules: which keys are valid, and what a repeated key gets (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from herald.api.domain.idempotency import (
    Fingerprint,
    InvalidKey,
    Record,
    Verdict,
    judge,
    parse_key,
    replayed_headers,
    stored,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=24)
ASSET = Fingerprint.of("POST", "/v1/assets", b'{"title": "a"}')
OTHER_BODY = Fingerprint.of("POST", "/v1/assets", b'{"title": "b"}')
OTHER_PATH = Fingerprint.of("POST", "/v1/channels", b'{"title": "a"}')


@pytest.mark.parametrize(
    "value", ["k", "a" * 255, "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "with space ~!"]
)
def test_valid_keys(value: str) -> None:
    assert parse_key([value]) == value


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ([""], "1 to 255"),
        (["a" * 256], "1 to 255"),
        (["tab\tinside"], "printable"),
        (["caf\u00e9"], "printable"),
        (["nul\x00"], "printable"),
        (["a", "b"], "exactly one"),
        ([], "exactly one"),
    ],
)
def test_invalid_keys(values: list[str], why: str) -> None:
    with pytest.raises(InvalidKey, match=why):
        parse_key(values)


def record(
    fingerprint: Fingerprint = ASSET,
    status: int | None = None,
    locked_until: datetime | None = NOW + timedelta(seconds=60),
    expires_at: datetime = LATER,
) -> Record:
    return Record(fingerprint, status, locked_until, expires_at)


@pytest.mark.parametrize(
    ("existing", "request_", "verdict"),
    [
        (record(status=201, locked_until=None), ASSET, Verdict.REPLAY),
        (record(status=422, locked_until=None), ASSET, Verdict.REPLAY),
        (record(status=201, locked_until=None), OTHER_BODY, Verdict.REUSED),
        (record(status=201, locked_until=None), OTHER_PATH, Verdict.REUSED),
        (record(), ASSET, Verdict.IN_PROGRESS),
        (record(), OTHER_BODY, Verdict.REUSED),
        (record(locked_until=NOW), ASSET, Verdict.TAKE_OVER),  # its request died
        (record(locked_until=NOW - timedelta(seconds=1)), OTHER_BODY, Verdict.REUSED),
        (record(status=201, locked_until=None, expires_at=NOW), OTHER_BODY, Verdict.TAKE_OVER),
        (record(expires_at=NOW), ASSET, Verdict.TAKE_OVER),
        (None, ASSET, Verdict.IN_PROGRESS),  # released between our insert and our read
    ],
)
def test_what_a_repeat_gets(
    existing: Record | None, request_: Fingerprint, verdict: Verdict
) -> None:
    assert judge(existing, request_, NOW) is verdict


def test_a_fingerprint_is_method_path_and_body_digest() -> None:
    assert Fingerprint.of("POST", "/v1/assets", b"x") == Fingerprint.of("POST", "/v1/assets", b"x")
    assert Fingerprint.of("POST", "/v1/assets", b"x") != Fingerprint.of(
        "POST", "/v1/assets?a", b"x"
    )
    assert len(ASSET.body_sha256) == 32


@pytest.mark.parametrize(
    ("status", "kept"), [(200, True), (201, True), (409, True), (500, False), (503, False)]
)
def test_server_errors_are_not_stored(status: int, kept: bool) -> None:
    assert stored(status) is kept


def test_per_delivery_headers_are_not_replayed() -> None:
    raw = [
        (b"content-type", b"application/json"),
        (b"Content-Length", b"12"),
        (b"ratelimit-remaining", b"3"),
        (b"location", b"/v1/assets/1"),
        (b"date", b"Thu, 01 Jan 2026 00:00:00 GMT"),
    ]
    assert replayed_headers(raw) == [
        ["content-type", "application/json"],
        ["location", "/v1/assets/1"],
    ]
