"""What a user's cancel or manual retry does to a job in a given state (pure)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from herald.common.domain.job_states import TERMINAL, JobStatus, can_transition


class CancelEffect(StrEnum):
    NOW = "now"  # the job becomes cancelled at once
    AFTER_CALL = "after_call"  # a platform call is in flight: record its outcome, retry no more
    REFUSED = "refused"  # already finished


def cancel_effect(status: JobStatus) -> CancelEffect:
    """Cancelling mid-call never hides a post that happened: the call's outcome is kept."""
    if status in TERMINAL:
        return CancelEffect.REFUSED
    if status is JobStatus.PROCESSING:
        return CancelEffect.AFTER_CALL
    return CancelEffect.NOW


def can_retry_manually(status: JobStatus) -> bool:
    """Dead-lettered, cancelled, missed and auth-parked jobs are retried by hand (to queued)."""
    revivable = (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.MISSED, JobStatus.WAITING_AUTH)
    return status in revivable and can_transition(status, JobStatus.QUEUED)


def retried_status(
    status: JobStatus, scheduled_for: datetime | None, queued_at: datetime | None
) -> JobStatus:
    """Where a manual retry, or the resumption of a re-authorized channel's jobs, sends a job:
    to queued, except a job parked in ``waiting_auth`` before its slot was ever dispatched,
    which waits for its slot again (the recovery sweep then queues it, or marks it missed)."""
    parked_before_slot = scheduled_for is not None and queued_at is None
    if status is JobStatus.WAITING_AUTH and parked_before_slot:
        return JobStatus.SCHEDULED
    return JobStatus.QUEUED


def status_after_call(outcome: JobStatus, cancel_requested: bool) -> JobStatus:
    """The status a finished call leaves: a requested cancel wins unless the post went out."""
    if cancel_requested and outcome is not JobStatus.SUCCEEDED:
        return JobStatus.CANCELLED
    return outcome
