"""Events of the CHANGES stream (``herald.changes.<tenant>.*``): what ``GET /v1/events`` streams.

One event per change of a publish job's status or of an alert, staged in the outbox in the
transaction of the change itself. The tenant is in the subject, so one live-update connection
reads only its tenant's slice of the stream, filtered by the server.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from herald.common.events.alerts import AlertSnapshot
from herald.common.events.envelope import Event

CHANGES_SUBJECT = "herald.changes"


def tenant_changes(tenant_id: uuid.UUID) -> str:
    """The subject filter of every change of one tenant."""
    return f"{CHANGES_SUBJECT}.{tenant_id}.>"


class JobChanged(Event):
    """A publish job took a new status (``queued``, ``processing``, ``succeeded``, …).

    ``attempts`` counts the tries so far (the one under way included); ``error_code`` is the
    last error's, ``next_attempt_at`` set while ``retrying``, ``external_id`` once published.
    """

    type: ClassVar[str] = "job.changed"
    subject: ClassVar[str] = CHANGES_SUBJECT

    tenant_id: uuid.UUID
    job_id: uuid.UUID
    asset_id: uuid.UUID
    channel_id: uuid.UUID
    platform: str
    status: str
    attempts: int = 0
    error_code: str | None = None
    external_id: str | None = None
    next_attempt_at: datetime | None = None

    def subject_of(self) -> str:
        return f"{self.subject}.{self.tenant_id}.jobs"


AlertChange = Literal["raised", "escalated", "acknowledged", "resolved"]


class AlertChanged(Event):
    """An alert of the tenant was raised, escalated, acknowledged or resolved (``change``).

    Repeats absorbed by an open alert are not live updates: they would be one per failure.
    """

    type: ClassVar[str] = "alert.changed"
    subject: ClassVar[str] = CHANGES_SUBJECT

    tenant_id: uuid.UUID
    change: AlertChange
    alert: AlertSnapshot

    def subject_of(self) -> str:
        return f"{self.subject}.{self.tenant_id}.alerts"
