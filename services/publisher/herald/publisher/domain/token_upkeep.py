"""Which OAuth channels the publisher refreshes on its own, when no job of theirs runs. Pure.

Two reasons. The access token expires soon: within ``margin_s``, plus a jitter of up to
``jitter_s`` fixed per channel (channels connected together do not all refresh in the same
round, and a channel's turn does not move from round to round). Or a scheduled job falls due
within ``lookahead_s`` and its token would need refreshing at the slot (the job's own check,
``refresh_due``, at its widest jitter): refreshing now finds a revoked grant before the slot,
while someone can still reconnect the channel, instead of at the slot.

The database narrows the channels to look at (``expiring_before``, ``slots_before``,
``slot_margin``); ``reason`` decides, from the credentials themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from herald.publisher.domain.token_refresh import REFRESH_JITTER_S, REFRESH_MARGIN_S, refresh_due


class UpkeepReason(StrEnum):
    EXPIRING = "expiring"  # the access token expires within the margin
    SLOT = "slot"  # a scheduled job falls due soon, and the token would be expiring by then


@dataclass(frozen=True)
class UpkeepPolicy:
    margin_s: float = 600.0
    jitter_s: float = 120.0
    lookahead_s: float = 900.0

    def expiring_before(self, now: datetime) -> datetime:
        """Tokens expiring before this may be due now, whatever their channel's jitter."""
        return now + timedelta(seconds=self.margin_s + self.jitter_s)

    def slots_before(self, now: datetime) -> datetime:
        """Scheduled jobs due before this are looked ahead to."""
        return now + timedelta(seconds=self.lookahead_s)

    @property
    def slot_margin(self) -> timedelta:
        """A token expiring later than this after a slot needs no refresh for it."""
        return timedelta(seconds=REFRESH_MARGIN_S + REFRESH_JITTER_S)

    def reason(
        self,
        credentials: Mapping[str, Any],
        now: datetime,
        jitter: float,
        next_slot: datetime | None = None,
    ) -> UpkeepReason | None:
        """Why to refresh the channel's tokens now, or None. ``jitter`` in [0, 1) is the
        channel's (``channel_jitter``); ``next_slot`` its earliest scheduled job, if any.
        Without a refresh token or a known expiry there is nothing to do ahead of time."""
        if refresh_due(credentials, now, jitter, margin_s=self.margin_s, jitter_s=self.jitter_s):
            return UpkeepReason.EXPIRING
        if (
            next_slot is not None
            and next_slot <= self.slots_before(now)
            and refresh_due(credentials, next_slot, 1.0)
        ):
            return UpkeepReason.SLOT
        return None


def channel_jitter(channel_id: uuid.UUID) -> float:
    """A number in [0, 1) fixed for the channel (from the random bits of its UUIDv7)."""
    return (channel_id.int % 4096) / 4096
