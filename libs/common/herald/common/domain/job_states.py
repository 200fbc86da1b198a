"""The publish job lifecycle: states and the transitions allowed between them.

Pure: no I/O. The guarded UPDATEs that change a job's status take their ``from`` sets from
here (``CLAIMABLE`` for claims, ``job_commands`` for cancel and retry) and the publisher checks
``can_transition`` before recording an outcome.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"  # approved for a future time; waits in the database
    QUEUED = "queued"  # due; a publish.requested is (or will be) on its way
    PROCESSING = "processing"  # a worker holds the lease and is calling the platform
    RETRYING = "retrying"  # a transient error; waits for its backoff to elapse
    SUCCEEDED = "succeeded"  # the platform accepted the post (terminal)
    FAILED = "failed"  # permanent error or attempts exhausted: the dead letter (terminal)
    WAITING_AUTH = "waiting_auth"  # the channel needs re-authorization; resumes when fixed
    UNCERTAIN = "uncertain"  # crashed mid-call; the publisher reconciles with the platform
    CANCELLED = "cancelled"  # stopped by a user (terminal)
    MISSED = "missed"  # its slot passed longer ago than the asset allows publishing late (terminal)


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.MISSED})

# A job waiting its turn (scheduled, queued, retrying) parks in waiting_auth with its channel
# when the platform refuses the channel's credentials for good; one parked before its slot was
# dispatched goes back to scheduled when the channel is fixed, any other to queued.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.SCHEDULED: frozenset(
        {JobStatus.QUEUED, JobStatus.CANCELLED, JobStatus.MISSED, JobStatus.WAITING_AUTH}
    ),
    JobStatus.QUEUED: frozenset(
        {JobStatus.PROCESSING, JobStatus.CANCELLED, JobStatus.WAITING_AUTH}
    ),
    JobStatus.PROCESSING: frozenset(
        {
            JobStatus.SUCCEEDED,
            JobStatus.RETRYING,
            JobStatus.FAILED,
            JobStatus.WAITING_AUTH,
            JobStatus.UNCERTAIN,
            JobStatus.CANCELLED,
        }
    ),
    JobStatus.RETRYING: frozenset(
        {JobStatus.PROCESSING, JobStatus.QUEUED, JobStatus.CANCELLED, JobStatus.WAITING_AUTH}
    ),
    JobStatus.WAITING_AUTH: frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.CANCELLED}),
    JobStatus.UNCERTAIN: frozenset({JobStatus.PROCESSING, JobStatus.CANCELLED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),  # manual retry only
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED}),  # manual retry only
    JobStatus.MISSED: frozenset({JobStatus.QUEUED}),  # manual retry only
}


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    """Whether a job in ``current`` may move to ``target``."""
    return target in TRANSITIONS[current]


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """Every state from which ``target`` is reachable in one step (for guarded UPDATEs)."""
    return frozenset(state for state, targets in TRANSITIONS.items() if target in targets)


def is_terminal(status: JobStatus) -> bool:
    return status in TERMINAL


CLAIMABLE = sources_of(JobStatus.PROCESSING)
"""States a worker may claim from (plus ``processing`` whose lease has expired: a takeover)."""

PARKABLE = sources_of(JobStatus.WAITING_AUTH) - {JobStatus.PROCESSING}
"""States of jobs that no worker holds and that park with their channel when it is refused."""
