"""Whether an alert's change is sent to the tenant's endpoints: silences and inhibition (pure).

Modelled on Alertmanager's ``silence/`` and ``inhibit/``: a silence mutes matching alerts for a
time; an active platform-wide alert inhibits the per-channel alerts of that platform it
explains. Muted alerts are still stored and counted; only their notifications are held back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

PLATFORM_CATEGORY = "platform"
"""Category of the alert a platform failing across a tenant's channels raises."""
INHIBITED_CATEGORIES = frozenset({"publish_failed", "channel_auth"})
"""Per-channel categories that such a platform alert explains."""


@dataclass(frozen=True)
class AlertLabels:
    """What silences and inhibition rules match on."""

    id: uuid.UUID
    tenant_id: uuid.UUID | None
    dedup_key: str
    category: str
    channel_id: uuid.UUID | None
    platform: str | None


@dataclass(frozen=True)
class SilenceRule:
    """Every matcher that is set must match; ``starts_at`` ≤ now < ``ends_at``."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    dedup_key: str | None = None
    channel_id: uuid.UUID | None = None
    category: str | None = None

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, alert: AlertLabels) -> bool:
        return (
            alert.tenant_id == self.tenant_id
            and self.dedup_key in (None, alert.dedup_key)
            and self.channel_id in (None, alert.channel_id)
            and self.category in (None, alert.category)
        )


@dataclass(frozen=True)
class Decision:
    send: bool
    reason: str  # sent | silenced:<id> | inhibited:<id> | never_notified | no_tenant

    @property
    def kind(self) -> str:
        return self.reason.split(":", 1)[0]


def silence_for(
    alert: AlertLabels, silences: list[SilenceRule], now: datetime
) -> SilenceRule | None:
    return next((s for s in silences if s.active(now) and s.matches(alert)), None)


def inhibitor_for(alert: AlertLabels, open_alerts: list[AlertLabels]) -> AlertLabels | None:
    """The open platform alert of the same tenant and platform that explains ``alert``."""
    if alert.category not in INHIBITED_CATEGORIES or alert.platform is None:
        return None
    return next(
        (
            source
            for source in open_alerts
            if source.id != alert.id
            and source.category == PLATFORM_CATEGORY
            and source.tenant_id == alert.tenant_id
            and source.platform == alert.platform
        ),
        None,
    )


RESOLVED = "alert.resolved"


def decide(
    alert: AlertLabels,
    event_type: str,
    notified: bool,
    silences: list[SilenceRule],
    open_alerts: list[AlertLabels],
    now: datetime,
) -> Decision:
    """Send, or hold back and say why.

    Like Alertmanager's dedup stage, a resolution is sent exactly when the alert itself was
    (``notified``), whatever silences or inhibitions began since: a receiver never keeps an
    open alert that Herald closed, nor hears of the end of one it never saw. Operator-wide
    alerts have no tenant endpoint."""
    if alert.tenant_id is None:
        return Decision(False, "no_tenant")
    if event_type == RESOLVED:
        return Decision(True, "sent") if notified else Decision(False, "never_notified")
    silence = silence_for(alert, silences, now)
    if silence is not None:
        return Decision(False, f"silenced:{silence.id}")
    inhibitor = inhibitor_for(alert, open_alerts)
    if inhibitor is not None:
        return Decision(False, f"inhibited:{inhibitor.id}")
    return Decision(True, "sent")
