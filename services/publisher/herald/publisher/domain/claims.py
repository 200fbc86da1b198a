"""Why a publish request found no claimable job, and what to do with the message. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from herald.common.domain.job_states import JobStatus, is_terminal


@dataclass(frozen=True)
class Refusal:
    """``delay_s`` None → ack and drop the request; a number → deliver it again then."""

    reason: str
    delay_s: float | None


def refuse_claim(
    status: JobStatus | None,
    lease_expires_at: datetime | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> Refusal:
    """Explain a claim that matched no row (the job is missing, finished, leased or not due)."""
    if status is None:
        return Refusal("job_missing", None)
    if is_terminal(status):
        return Refusal("already_finished", None)
    if status is JobStatus.PROCESSING and lease_expires_at is not None:
        return Refusal("leased_elsewhere", max(0.5, (lease_expires_at - now).total_seconds()))
    if next_attempt_at is not None and next_attempt_at > now:
        return Refusal("not_due", max(0.1, (next_attempt_at - now).total_seconds()))
    # scheduled: the recovery service dispatches it when due; waiting_auth: resumes on re-auth
    return Refusal(f"not_claimable_{status}", None)
