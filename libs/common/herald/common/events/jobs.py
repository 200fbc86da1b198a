"""Events of the JOBS stream (``herald.jobs.*``): user commands on single jobs."""

from __future__ import annotations

import uuid
from typing import ClassVar

from herald.common.events.envelope import Event


class JobCancelled(Event):
    """A user cancelled the job (``after_call``: its in-flight call's outcome will stand)."""

    type: ClassVar[str] = "job.cancelled"
    subject: ClassVar[str] = "herald.jobs.cancelled"

    job_id: uuid.UUID
    asset_id: uuid.UUID
    after_call: bool


class JobRetryRequested(Event):
    """A user (or ``herald jobs redrive``) sent a failed or cancelled job back to the queue."""

    type: ClassVar[str] = "job.retry_requested"
    subject: ClassVar[str] = "herald.jobs.retry_requested"

    job_id: uuid.UUID
    asset_id: uuid.UUID
    previous_status: str


class JobRecovered(Event):
    """The recovery service found the job stranded and set it going again.

    ``reason``: scheduled_due, queued_stale, retry_overdue, lease_expired or uncertain.
    """

    type: ClassVar[str] = "job.recovered"
    subject: ClassVar[str] = "herald.jobs.recovered"

    job_id: uuid.UUID
    asset_id: uuid.UUID
    reason: str
