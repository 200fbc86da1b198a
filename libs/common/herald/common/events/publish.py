"""Events and commands of the PUBLISH stream (``herald.publish.*``)."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from herald.common.events.envelope import Event


class PublishRequested(Event):
    """Command: execute this publish job now (idempotent: a finished job is not redone).

    Published on ``herald.publish.requested.<priority>``: one durable consumer per class.
    """

    type: ClassVar[str] = "publish.requested"
    subject: ClassVar[str] = "herald.publish.requested"

    job_id: uuid.UUID
    priority: Literal["high", "normal", "low"] = "normal"

    def subject_of(self) -> str:
        return f"{self.subject}.{self.priority}"


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
