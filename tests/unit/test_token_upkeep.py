"""Which idle OAuth channels the publisher refreshes on its own, and why (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.common.domain.token_grants import expires_at
from herald.publisher.domain.token_refresh import REFRESH_JITTER_S, REFRESH_MARGIN_S
from herald.publisher.domain.token_upkeep import UpkeepPolicy, UpkeepReason, channel_jitter

NOW = datetime(2026, 12, 5, 8, 45, tzinfo=UTC)
POLICY = UpkeepPolicy(margin_s=600, jitter_s=120, lookahead_s=900)
SLOT_MARGIN_S = REFRESH_MARGIN_S + REFRESH_JITTER_S  # the job's own check at its widest


def creds(expires_in_s: float | None, refresh_token: str | None = "rt") -> dict[str, object]:  # noqa: S107
    found: dict[str, object] = {"access_token": "at"}
    if refresh_token:
        found["refresh_token"] = refresh_token
    if expires_in_s is not None:
        found["expires_at"] = (NOW + timedelta(seconds=expires_in_s)).isoformat()
    return found


def slot_in(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("expires_in_s", "jitter", "slot_in_s", "reason"),
    [
        (7200, 0.0, None, None),  # two hours left, nothing scheduled
        (601, 0.0, None, None),  # just outside the margin
        (600, 0.0, None, UpkeepReason.EXPIRING),
        (660, 0.5, None, UpkeepReason.EXPIRING),  # the channel's jitter brings it forward
        (660, 0.4, None, None),
        (-60, 0.0, None, UpkeepReason.EXPIRING),  # already expired: still refreshed
        # 09:00 slot (15 min ahead), token until 09:05: the job would refresh at its slot
        (1200, 0.0, 900, UpkeepReason.SLOT),
        (900 + SLOT_MARGIN_S, 0.0, 900, UpkeepReason.SLOT),
        (900 + SLOT_MARGIN_S + 1, 0.0, 900, None),  # valid at the slot, even at widest jitter
        (1200, 0.0, 901, None),  # the slot is beyond the look-ahead: a later round
        (7200, 0.0, 300, None),  # a slot soon, a token that outlasts it
        (1200, 0.0, -30, None),  # an overdue slot is being dispatched: the job checks
        (1200, 0.0, 0, None),  # valid for 20 minutes more: the job at its slot is fine
        (300, 0.0, 900, UpkeepReason.EXPIRING),  # both: expiring wins
    ],
)
def test_reason(
    expires_in_s: float, jitter: float, slot_in_s: float | None, reason: UpkeepReason | None
) -> None:
    slot = None if slot_in_s is None else slot_in(slot_in_s)
    assert POLICY.reason(creds(expires_in_s), NOW, jitter, slot) is reason


@pytest.mark.parametrize(
    "credentials",
    [
        creds(-60, refresh_token=None),  # nothing to refresh with: the job's 401 will say
        creds(None),  # no known expiry (a non-expiring token)
        {"refresh_token": "rt", "expires_at": "tomorrow"},
        {},
    ],
    ids=["no refresh token", "no expiry", "unreadable expiry", "empty"],
)
def test_nothing_to_do_ahead_of_time(credentials: dict[str, object]) -> None:
    assert POLICY.reason(credentials, NOW, 0.0, slot_in(60)) is None


@given(
    expires_in_s=st.floats(min_value=-3600, max_value=86400),
    jitter=st.floats(min_value=0, max_value=0.999),
    slot_in_s=st.none() | st.floats(min_value=-60, max_value=7200),
)
def test_a_due_channel_is_always_among_the_database_candidates(
    expires_in_s: float, jitter: float, slot_in_s: float | None
) -> None:
    """The SQL narrows by the policy's cut-offs; nothing the decision wants is left out."""
    credentials = creds(expires_in_s)
    slot = None if slot_in_s is None else slot_in(slot_in_s)
    reason = POLICY.reason(credentials, NOW, jitter, slot)
    expiry = expires_at(credentials)
    assert expiry is not None
    if reason is UpkeepReason.EXPIRING:
        assert expiry <= POLICY.expiring_before(NOW)
    if reason is UpkeepReason.SLOT:
        assert slot is not None and slot <= POLICY.slots_before(NOW)
        assert expiry <= slot + POLICY.slot_margin


@given(st.floats(min_value=0, max_value=0.999), st.floats(min_value=-3600, max_value=86400))
def test_never_earlier_than_the_margin_and_jitter_without_a_slot(
    jitter: float, expires_in_s: float
) -> None:
    due = POLICY.reason(creds(expires_in_s), NOW, jitter) is not None
    assert due == (expires_in_s <= POLICY.margin_s + jitter * POLICY.jitter_s)


def test_a_channel_keeps_its_jitter_and_channels_spread() -> None:
    ids = [uuid.uuid4() for _ in range(400)]
    jitters = [channel_jitter(i) for i in ids]
    assert all(0 <= j < 1 for j in jitters)
    assert [channel_jitter(i) for i in ids] == jitters
    assert len({round(j, 1) for j in jitters}) >= 8  # not all in one place


def test_cut_offs() -> None:
    assert POLICY.expiring_before(NOW) == NOW + timedelta(seconds=720)
    assert POLICY.slots_before(NOW) == NOW + timedelta(seconds=900)
    assert POLICY.slot_margin == timedelta(seconds=SLOT_MARGIN_S)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("2026-12-05T09:00:00+00:00", datetime(2026, 12, 5, 9, tzinfo=UTC)),
        ("2026-12-05T09:00:00Z", datetime(2026, 12, 5, 9, tzinfo=UTC)),
        ("2026-12-05T10:00:00+01:00", datetime(2026, 12, 5, 9, tzinfo=UTC)),
        ("2026-12-05T09:00:00", datetime(2026, 12, 5, 9, tzinfo=UTC)),  # no zone: UTC
        ("soon", None),
        (3600, None),
    ],
)
def test_expires_at_reads_the_credentials(raw: object, parsed: datetime | None) -> None:
    assert expires_at({"expires_at": raw}) == parsed
