"""The envelope every Herald event travels in, JSON on the wire.

``id`` is a UUIDv7 and doubles as the ``Nats-Msg-Id`` header, so JetStream drops a re-published
duplicate inside the stream's duplicate window; consumers de-duplicate for good through the inbox.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from herald.common.ids import new_id


class Event(BaseModel):
    """Typed ``data`` of one kind of event; the subject string sits beside its model."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: ClassVar[str]
    subject: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def subject_of(self) -> str:
        """The subject this event is published on (some events route by a field)."""
        return self.subject


E = TypeVar("E", bound=Event)


class UnknownSchemaError(ValueError):
    """An event this code cannot read: another type, a newer schema, or data that does not
    match its schema (a poison message)."""


class Envelope(BaseModel):
    """Metadata common to every event plus its typed ``data``."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: uuid.UUID
    type: str
    occurred_at: datetime
    tenant_id: uuid.UUID | None
    subject_id: uuid.UUID = Field(description="the entity the event is about")
    idempotency_key: str
    data: dict[str, Any]
    schema_version: int = Field(1, alias="schema")

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        tenant_id: uuid.UUID | None,
        subject_id: uuid.UUID,
        now: datetime,
        idempotency_key: str | None = None,
    ) -> Envelope:
        """Put ``event`` in a new envelope; the key defaults to the event id."""
        event_id = new_id()
        return cls(
            id=event_id,
            type=event.type,
            occurred_at=now,
            tenant_id=tenant_id,
            subject_id=subject_id,
            idempotency_key=idempotency_key or str(event_id),
            data=event.model_dump(mode="json"),
            schema=event.schema_version,
        )

    def payload(self, model: builtins.type[E]) -> E:
        """The typed data; refuses an envelope of another type or a newer schema."""
        if self.type != model.type:
            raise UnknownSchemaError(f"expected {model.type}, got {self.type}")
        if self.schema_version > model.schema_version:
            raise UnknownSchemaError(
                f"{self.type} schema {self.schema_version} is newer than {model.schema_version}"
            )
        try:
            return model.model_validate(self.data)
        except ValidationError as error:
            raise UnknownSchemaError(
                f"{self.type} data does not match its schema: {error}"
            ) from None

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()
