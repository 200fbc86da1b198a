"""The review workflow of an asset (pure): which command moves it where, and what it shows.

draft ──submit──> submitted ──approve──> approved ──(its jobs run)──> publishing ──> published,
  │                   │                                                partially_failed or failed
  └───────────────────┴──reject (a reason)──> rejected ──submit──> submitted

A reviewer may approve or reject a draft directly (submitting is the editor's way of asking).
Editing keeps a draft, a submitted or a rejected asset where it is; editing an approved asset
sends it back to review, which is only possible while none of its jobs has started.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from herald.common.domain.asset_states import AssetStatus
from herald.common.domain.job_states import TERMINAL, JobStatus


class ReviewCommand(StrEnum):
    SUBMIT = "submit"  # an editor asks for review
    APPROVE = "approve"  # a reviewer says yes: the jobs are created
    REJECT = "reject"  # a reviewer says no, with a reason
    EDIT = "edit"  # the content, targets or schedule change


class NotAllowed(ValueError):
    """The asset's status does not allow the command."""


_MOVES: dict[ReviewCommand, dict[AssetStatus, AssetStatus]] = {
    ReviewCommand.SUBMIT: {
        AssetStatus.DRAFT: AssetStatus.SUBMITTED,
        AssetStatus.REJECTED: AssetStatus.SUBMITTED,
    },
    ReviewCommand.APPROVE: {
        AssetStatus.DRAFT: AssetStatus.APPROVED,
        AssetStatus.SUBMITTED: AssetStatus.APPROVED,
    },
    ReviewCommand.REJECT: {
        AssetStatus.DRAFT: AssetStatus.REJECTED,
        AssetStatus.SUBMITTED: AssetStatus.REJECTED,
    },
    ReviewCommand.EDIT: {
        AssetStatus.DRAFT: AssetStatus.DRAFT,
        AssetStatus.SUBMITTED: AssetStatus.SUBMITTED,
        AssetStatus.REJECTED: AssetStatus.REJECTED,
        AssetStatus.APPROVED: AssetStatus.SUBMITTED,  # back to review
    },
}

NOT_STARTED = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUED})
"""Job statuses an edit may discard: nothing was sent to a platform yet."""


def next_status(
    status: AssetStatus, command: ReviewCommand, jobs: Iterable[tuple[JobStatus, int]] = ()
) -> AssetStatus:
    """Where ``command`` takes an asset in ``status``; ``jobs`` are its jobs' (status, attempts).

    Raises NotAllowed, with the reason, when the command does not apply.
    """
    target = _MOVES[command].get(status)
    if target is None:
        raise NotAllowed(f"an asset in status {status} cannot be {_past(command)}")
    if command is ReviewCommand.EDIT and status is AssetStatus.APPROVED:
        started = [s for s, attempts in jobs if s not in NOT_STARTED or attempts > 0]
        if started:
            raise NotAllowed(
                f"{len(started)} of its jobs already started publishing; cancel the asset and "
                "create a new one instead"
            )
    return target


def _past(command: ReviewCommand) -> str:
    return {"submit": "submitted", "approve": "approved", "reject": "rejected"}.get(
        command, "edited"
    )


class Publication(StrEnum):
    """What an approved asset shows as its status once its jobs run."""

    APPROVED = "approved"  # approved; no job has started yet (or they wait for their slot)
    PUBLISHING = "publishing"  # some jobs started, not all are finished
    PUBLISHED = "published"  # every job succeeded
    PARTIALLY_FAILED = "partially_failed"  # every job finished, some succeeded
    FAILED = "failed"  # every job finished, none succeeded


def shown_status(status: AssetStatus, jobs: Iterable[tuple[JobStatus, int]]) -> str:
    """The status an asset shows: its review status, or its publication once approved."""
    if status is not AssetStatus.APPROVED:
        return status.value
    pairs = list(jobs)
    if not pairs:
        return Publication.APPROVED.value
    statuses = [s for s, _ in pairs]
    if all(s in TERMINAL for s in statuses):
        succeeded = sum(s is JobStatus.SUCCEEDED for s in statuses)
        if succeeded == len(statuses):
            return Publication.PUBLISHED.value
        return (Publication.PARTIALLY_FAILED if succeeded else Publication.FAILED).value
    if all(s in NOT_STARTED and attempts == 0 for s, attempts in pairs):
        return Publication.APPROVED.value
    return Publication.PUBLISHING.value
