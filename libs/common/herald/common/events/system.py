"""Events of the SYSTEM stream (``herald.system.*``): conditions a service reports."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Literal

from herald.common.events.envelope import Event


class ChannelAuthFailed(Event):
    """A platform refused a channel's credentials; its jobs wait in ``waiting_auth``."""

    type: ClassVar[str] = "channel.auth_failed"
    subject: ClassVar[str] = "herald.system.channel_auth_failed"

    channel_id: uuid.UUID
    platform: str
    job_id: uuid.UUID | None = None
    error_code: str
    message: str


class ConditionReported(Event):
    """A service saw a condition worth an alert (``active``) or saw it clear (not ``active``).

    ``key`` identifies the condition (its alert's dedup key); the tenant is the envelope's
    (``None`` for operator-wide conditions).
    """

    type: ClassVar[str] = "system.condition"
    subject: ClassVar[str] = "herald.system.condition"

    key: str
    category: str
    severity: Literal["info", "warning", "error", "critical"] = "warning"
    message: str
    details: dict[str, Any] = {}
    active: bool = True
