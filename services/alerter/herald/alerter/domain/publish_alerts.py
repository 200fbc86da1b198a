"""Which alert a publish failure, an auth failure or a reported condition raises (pure)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from herald.alerter.domain.rules import Condition
from herald.alerter.domain.severity import Severity
from herald.common.events import ChannelAuthFailed, ConditionReported, PublishFailed


@dataclass(frozen=True)
class AlertDraft:
    """An occurrence, before de-duplication decides what it does to the stored alert."""

    severity: Severity
    category: str
    dedup_key: str
    message: str
    source: str
    channel_id: uuid.UUID | None = None
    platform: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def failure_key(channel_id: uuid.UUID) -> str:
    """One open failure alert per channel; a success on the channel resolves it."""
    return f"publish_failed:{channel_id}"


def auth_key(channel_id: uuid.UUID) -> str:
    return f"channel_auth:{channel_id}"


def alert_for_failure(failure: PublishFailed) -> AlertDraft | None:
    """A final failure is an error, a retried one a warning; None for a job parked because
    the channel's credentials were refused (``channel.auth_failed`` raises that one alert)."""
    if failure.error_class == "auth" and not failure.final:
        return None
    what = "gave up publishing" if failure.final else "a publish attempt failed"
    return AlertDraft(
        severity=Severity.ERROR if failure.final else Severity.WARNING,
        category="publish_failed",
        dedup_key=failure_key(failure.channel_id),
        message=f"{failure.platform}: {what} ({failure.error_code})",
        source="publisher",
        channel_id=failure.channel_id,
        platform=failure.platform,
        details={
            "job_id": str(failure.job_id),
            "asset_id": str(failure.asset_id),
            "error_class": failure.error_class,
            "error_code": failure.error_code,
            "http_status": failure.http_status,
            "attempt": failure.attempt,
            "final": failure.final,
            "error": failure.message,
        },
    )


def alert_for_auth_failure(failure: ChannelAuthFailed) -> AlertDraft:
    """Jobs are parked until someone reconnects the channel: an error at once."""
    return AlertDraft(
        severity=Severity.ERROR,
        category="channel_auth",
        dedup_key=auth_key(failure.channel_id),
        message=f"{failure.platform}: the channel needs re-authorization ({failure.error_code})",
        source="publisher",
        channel_id=failure.channel_id,
        platform=failure.platform,
        details={
            "job_id": str(failure.job_id) if failure.job_id else None,
            "error_code": failure.error_code,
            "error": failure.message,
        },
    )


def alert_for_report(report: ConditionReported, source: str) -> AlertDraft:
    return AlertDraft(
        severity=Severity(report.severity),
        category=report.category,
        dedup_key=report.key,
        message=report.message,
        source=source,
        details=dict(report.details),
    )


def alert_for_condition(condition: Condition) -> AlertDraft:
    return AlertDraft(
        severity=condition.severity,
        category=condition.category,
        dedup_key=condition.dedup_key,
        message=condition.message,
        source="rules",
        platform=condition.platform,
        details=dict(condition.details),
    )
