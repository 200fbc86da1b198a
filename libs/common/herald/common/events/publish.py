"""Events and commands of the PUBLISH stream (``herald.publish.*``)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from herald.common.events.envelope import Event


class PublishRequested(Event):
    """Command: execute this publish job now (idempotent: a finished job is not redone)."""

    type: ClassVar[str] = "publish.requested"
    subject: ClassVar[str] = "herald.publish.requested"

    job_id: uuid.UUID
    priority: str = "normal"


class PublishSucceeded(Event):
    """The platform accepted the post."""

    type: ClassVar[str] = "publish.succeeded"
    subject: ClassVar[str] = "herald.publish.succeeded"

    job_id: uuid.UUID
    asset_id: uuid.UUID
    channel_id: uuid.UUID
    platform: str
    external_id: str
    attempts: int


class PublishFailed(Event):
    """An attempt failed; ``final`` means the job is dead-lettered in ``failed``."""

    type: ClassVar[str] = "publish.failed"
    subject: ClassVar[str] = "herald.publish.failed"

    job_id: uuid.UUID
    asset_id: uuid.UUID
    channel_id: uuid.UUID
    platform: str
    error_class: str
    error_code: str
    message: str
    http_status: int | None = None
    attempt: int
    final: bool
