"""When an OAuth token is refreshed, and what the credentials become (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.common.domain.token_grants import refreshable_expiry
from herald.publisher.domain.token_refresh import (
    REFRESH_JITTER_S,
    REFRESH_MARGIN_S,
    TokenGrant,
    refresh_due,
    refresh_on_refusal,
    refreshed,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def creds(expires_in_s: float | None, refresh_token: str | None = "rt") -> dict[str, object]:  # noqa: S107
    found: dict[str, object] = {"access_token": "at"}
    if refresh_token:
        found["refresh_token"] = refresh_token
    if expires_in_s is not None:
        found["expires_at"] = (NOW + timedelta(seconds=expires_in_s)).isoformat()
    return found


@pytest.mark.parametrize(
    ("expires_in_s", "jitter", "due"),
    [
        (3600, 0.0, False),
        (REFRESH_MARGIN_S + 1, 0.0, False),
        (REFRESH_MARGIN_S, 0.0, True),
        (REFRESH_MARGIN_S + REFRESH_JITTER_S / 2, 0.6, True),  # jitter pulls it earlier
        (REFRESH_MARGIN_S + REFRESH_JITTER_S / 2, 0.4, False),
        (-10, 0.0, True),  # already expired
    ],
)
def test_refresh_is_due_ahead_of_expiry(expires_in_s: float, jitter: float, due: bool) -> None:
    assert refresh_due(creds(expires_in_s), NOW, jitter) is due


def test_nothing_to_refresh_without_a_refresh_token_or_a_known_expiry() -> None:
    assert refresh_due(creds(-10, refresh_token=None), NOW, 0.0) is False
    assert refresh_due(creds(None), NOW, 0.0) is False
    assert refresh_due({"refresh_token": "rt", "expires_at": "soon"}, NOW, 0.0) is False


@given(st.floats(min_value=-86400, max_value=86400), st.floats(min_value=0, max_value=0.999))
def test_never_due_earlier_than_margin_plus_jitter(expires_in_s: float, jitter: float) -> None:
    due = refresh_due(creds(expires_in_s), NOW, jitter)
    assert due == (expires_in_s <= REFRESH_MARGIN_S + jitter * REFRESH_JITTER_S)


def test_a_refusal_refreshes_once() -> None:
    assert refresh_on_refusal(creds(3600), already_refreshed=False)
    assert not refresh_on_refusal(creds(3600), already_refreshed=True)
    assert not refresh_on_refusal(creds(3600, refresh_token=None), already_refreshed=False)


def test_a_rotated_refresh_token_replaces_the_old_and_the_expiry_moves() -> None:
    after = refreshed(creds(10), TokenGrant("at2", "rt2", 7200), NOW)
    assert after["access_token"] == "at2"
    assert after["refresh_token"] == "rt2"
    assert after["expires_at"] == (NOW + timedelta(seconds=7200)).isoformat()


def test_a_kept_refresh_token_stays_and_an_unknown_lifetime_drops_the_expiry() -> None:
    after = refreshed(creds(10) | {"extra": 1}, TokenGrant("at2", None, None), NOW)
    assert (after["refresh_token"], after["extra"]) == ("rt", 1)
    assert "expires_at" not in after


def test_only_refreshable_tokens_are_given_a_stored_expiry() -> None:
    """``channels.token_expires_at`` lists what the upkeep can act on: a token without a
    refresh token would be a candidate every round with nothing to do."""
    at = "2026-12-05T12:00:00Z"
    assert refreshable_expiry({"access_token": "a", "refresh_token": "r", "expires_at": at}) == (
        datetime(2026, 12, 5, 12, tzinfo=UTC)
    )
    assert refreshable_expiry({"access_token": "a", "expires_at": at}) is None
    assert refreshable_expiry({"access_token": "a", "refresh_token": "", "expires_at": at}) is None
    assert refreshable_expiry({"access_token": "a", "refresh_token": "r"}) is None
