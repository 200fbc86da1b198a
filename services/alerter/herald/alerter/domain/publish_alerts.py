"""Which alert a publish failure raises (pure). De-duplication and escalation build on this."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from herald.common.events import PublishFailed


@dataclass(frozen=True)
class AlertDraft:
    severity: str
    category: str
    dedup_key: str
    message: str
    details: dict[str, object]


def failure_key(channel_id: uuid.UUID) -> str:
    """One open failure alert per channel; a success on the channel resolves it."""
    return f"publish_failed:{channel_id}"


def alert_for_failure(failure: PublishFailed) -> AlertDraft:
    """One open alert per channel: a final failure is an error, a retried one a warning."""
    what = "gave up publishing" if failure.final else "a publish attempt failed"
    return AlertDraft(
        severity="error" if failure.final else "warning",
        category="publish_failed",
        dedup_key=failure_key(failure.channel_id),
        message=f"{failure.platform}: {what} ({failure.error_code})",
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
