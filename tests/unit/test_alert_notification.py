"""Silences and inhibition decide which alert changes are sent (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from herald.alerter.domain.notification import AlertLabels, SilenceRule, decide

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RAISED, ESCALATED, RESOLVED = "alert.raised", "alert.escalated", "alert.resolved"
TENANT, OTHER = uuid.uuid4(), uuid.uuid4()
CHANNEL = uuid.uuid4()


def _alert(
    category: str = "publish_failed",
    tenant: uuid.UUID | None = TENANT,
    platform: str | None = "sandbox",
    channel: uuid.UUID | None = CHANNEL,
) -> AlertLabels:
    key = f"{category}:{channel}" if channel else f"platform_failing:{platform}"
    return AlertLabels(uuid.uuid4(), tenant, key, category, channel, platform)


def _silence(
    *,
    tenant_id: uuid.UUID = TENANT,
    starts_at: datetime = NOW - timedelta(minutes=1),
    ends_at: datetime = NOW + timedelta(hours=1),
    dedup_key: str | None = None,
    channel_id: uuid.UUID | None = None,
    category: str | None = None,
) -> SilenceRule:
    return SilenceRule(uuid.uuid4(), tenant_id, starts_at, ends_at, dedup_key, channel_id, category)


def test_an_unmuted_alert_is_sent() -> None:
    assert decide(_alert(), RAISED, False, [], [], NOW).reason == "sent"


@pytest.mark.parametrize(
    ("matchers", "silenced"),
    [
        ({"channel_id": CHANNEL}, True),
        ({"category": "publish_failed"}, True),
        ({"dedup_key": f"publish_failed:{CHANNEL}"}, True),
        ({"channel_id": CHANNEL, "category": "publish_failed"}, True),
        ({"channel_id": CHANNEL, "category": "channel_auth"}, False),  # every matcher must match
        ({"channel_id": uuid.uuid4()}, False),
        ({"channel_id": CHANNEL, "tenant_id": OTHER}, False),  # another tenant's silence
        ({"channel_id": CHANNEL, "ends_at": NOW}, False),  # ended (the end is exclusive)
        ({"channel_id": CHANNEL, "starts_at": NOW + timedelta(seconds=1)}, False),  # not yet
    ],
)
def test_silences(matchers: dict[str, Any], silenced: bool) -> None:
    silence = _silence(**matchers)
    decision = decide(_alert(), RAISED, False, [silence], [], NOW)
    assert decision.send is not silenced
    assert decision.reason == (f"silenced:{silence.id}" if silenced else "sent")


def test_a_platform_alert_inhibits_the_channel_alerts_it_explains() -> None:
    platform = _alert(category="platform", channel=None)
    channel_alert = _alert()
    decision = decide(channel_alert, RAISED, False, [], [platform], NOW)
    assert (decision.send, decision.reason) == (False, f"inhibited:{platform.id}")
    assert (
        decide(_alert(category="channel_auth"), RAISED, False, [], [platform], NOW).kind
        == "inhibited"
    )


@pytest.mark.parametrize(
    "target",
    [
        _alert(platform="mastodon"),  # another platform
        _alert(tenant=OTHER),  # another tenant
        _alert(category="queue_backlog"),  # a category the platform alert does not explain
    ],
)
def test_inhibition_needs_the_same_tenant_platform_and_an_explained_category(
    target: AlertLabels,
) -> None:
    platform = _alert(category="platform", channel=None)
    assert decide(target, RAISED, False, [], [platform], NOW).send


def test_the_platform_alert_itself_is_never_inhibited() -> None:
    platform = _alert(category="platform", channel=None)
    assert decide(platform, RAISED, False, [], [platform], NOW).send


def test_operator_wide_alerts_have_no_tenant_endpoint() -> None:
    assert decide(_alert(tenant=None), RAISED, False, [], [], NOW).reason == "no_tenant"


def test_a_silence_wins_over_inhibition_in_the_reason() -> None:
    silence = _silence(channel_id=CHANNEL)
    platform = _alert(category="platform", channel=None)
    assert decide(_alert(), RAISED, False, [silence], [platform], NOW).kind == "silenced"


@pytest.mark.parametrize("event_type", [RAISED, ESCALATED])
def test_a_silence_or_an_inhibition_holds_back_raises_and_escalations(event_type: str) -> None:
    platform = _alert(category="platform", channel=None)
    assert not decide(_alert(), event_type, True, [_silence(channel_id=CHANNEL)], [], NOW).send
    assert not decide(_alert(), event_type, True, [], [platform], NOW).send


@pytest.mark.parametrize(
    ("notified", "silenced", "inhibited", "sent"),
    [
        (True, False, False, True),
        (True, True, True, True),  # muted after it was sent: its end is still told
        (False, False, False, False),  # never told: its end is not news either
        (False, True, False, False),
    ],
)
def test_a_resolution_is_sent_exactly_when_the_alert_was(
    notified: bool, silenced: bool, inhibited: bool, sent: bool
) -> None:
    silences = [_silence(channel_id=CHANNEL)] if silenced else []
    platforms = [_alert(category="platform", channel=None)] if inhibited else []
    decision = decide(_alert(), RESOLVED, notified, silences, platforms, NOW)
    assert decision.send is sent
    assert decision.reason == ("sent" if sent else "never_notified")
