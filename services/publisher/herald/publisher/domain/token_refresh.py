"""When an OAuth access token is refreshed, and what the channel's credentials become. Pure.

A channel of an OAuth platform keeps ``access_token``, ``refresh_token`` and ``expires_at``
(ISO 8601, UTC) in its sealed credentials. The token is refreshed before it expires, not at
the last moment: ``margin_s`` ahead, plus up to ``jitter_s`` more so that the channels
connected together do not all refresh in the same second.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from herald.common.domain.token_grants import TokenGrant, credentials_of, expires_at

__all__ = ["TokenGrant", "expires_at", "refresh_due", "refresh_on_refusal", "refreshed"]

REFRESH_MARGIN_S = 300.0
"""Refresh this long before ``expires_at`` (default 5 minutes)."""
REFRESH_JITTER_S = 120.0
"""Up to this much earlier again, chosen at random per check (default 2 minutes)."""


def refresh_due(
    credentials: Mapping[str, Any],
    now: datetime,
    jitter: float,
    *,
    margin_s: float = REFRESH_MARGIN_S,
    jitter_s: float = REFRESH_JITTER_S,
) -> bool:
    """Whether to refresh before using the token; ``jitter`` is a random number in [0, 1).
    Without a refresh token there is nothing to do; without a known expiry, the platform's
    401 says when (``refresh_on_refusal``)."""
    if not credentials.get("refresh_token"):
        return False
    expiry = expires_at(credentials)
    if expiry is None:
        return False
    return now >= expiry - timedelta(seconds=margin_s + jitter * jitter_s)


def refresh_on_refusal(credentials: Mapping[str, Any], already_refreshed: bool) -> bool:
    """After a 401: refresh once and try again, if there is a refresh token and this attempt
    has not just refreshed it (a fresh token refused means the grant itself is gone)."""
    return bool(credentials.get("refresh_token")) and not already_refreshed


def refreshed(credentials: Mapping[str, Any], grant: TokenGrant, now: datetime) -> dict[str, Any]:
    """The credentials after a refresh (``credentials_of``, keeping what else they hold)."""
    return credentials_of(grant, now, credentials)
