"""Events of the ALERTS stream (``herald.alerts.*``): an alert was raised, escalated, resolved.

Each carries a snapshot of the alert as it stood right after the change, so a notifier can
render it without reading the database, and tenant webhook endpoints receive exactly this.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from herald.common.events.envelope import Event


class AlertSnapshot(BaseModel):
    """The alert right after the change."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID
    severity: str
    category: str
    source: str
    dedup_key: str
    message: str
    details: dict[str, Any]
    channel_id: uuid.UUID | None
    platform: str | None
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    status: str
    resolution: str | None
    escalation_level: int


class AlertRaised(Event):
    """A new alert opened (the first occurrence of its dedup key since it was last resolved)."""

    type: ClassVar[str] = "alert.raised"
    subject: ClassVar[str] = "herald.alerts.raised"

    alert: AlertSnapshot


class AlertEscalated(Event):
    """An open alert's severity went up (``reason``: repeats, failure_rate or severity)."""

    type: ClassVar[str] = "alert.escalated"
    subject: ClassVar[str] = "herald.alerts.escalated"

    alert: AlertSnapshot
    previous_severity: str
    reason: str


class AlertResolved(Event):
    """An alert closed: ``manual`` by a person, or ``auto`` (a success, quiet, condition gone)."""

    type: ClassVar[str] = "alert.resolved"
    subject: ClassVar[str] = "herald.alerts.resolved"

    alert: AlertSnapshot
    reason: str


ALERT_EVENTS: tuple[type[AlertRaised] | type[AlertEscalated] | type[AlertResolved], ...] = (
    AlertRaised,
    AlertEscalated,
    AlertResolved,
)
"""What a webhook endpoint can subscribe to (``events``); ``webhook.test`` is sent on demand."""
