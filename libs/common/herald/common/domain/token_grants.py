"""What a platform's OAuth token endpoint grants, and the channel credentials it makes. Pure.

A channel of an OAuth platform keeps ``access_token``, ``refresh_token`` and ``expires_at``
(ISO 8601, UTC) in its sealed credentials; wherever they are stored, ``expires_at(...)`` is
stored beside them in clear (``channels.token_expires_at``), so that the publisher finds the
channels whose tokens need refreshing without opening every channel's credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class TokenGrant:
    """A token endpoint's answer: an access token, perhaps a new (rotated) refresh token, and
    the access token's lifetime."""

    access_token: str
    refresh_token: str | None
    expires_in_s: float | None


def credentials_of(
    grant: TokenGrant, now: datetime, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The credentials after ``grant``: a platform that rotates refresh tokens sends a new
    one (the old one no longer works); one that does not keeps the old."""
    updated = dict(previous or {})
    updated["access_token"] = grant.access_token
    if grant.refresh_token:
        updated["refresh_token"] = grant.refresh_token
    if grant.expires_in_s is not None:
        updated["expires_at"] = (now + timedelta(seconds=grant.expires_in_s)).isoformat()
    else:
        updated.pop("expires_at", None)
    return updated


def expires_at(credentials: Mapping[str, Any]) -> datetime | None:
    """When the access token expires, if the credentials say (a time without a zone is UTC)."""
    raw = credentials.get("expires_at")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def refreshable_expiry(credentials: Mapping[str, Any]) -> datetime | None:
    """What ``channels.token_expires_at`` holds: the expiry of tokens that can be refreshed.
    Without a refresh token there is nothing to do ahead of time (the platform's refusal
    parks the channel's jobs when it comes), so the upkeep need not look at the channel."""
    refresh_token = credentials.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        return None
    return expires_at(credentials)
