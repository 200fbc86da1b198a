"""The inbox: a consumer records each event id in the same transaction as its effect.

A redelivered event finds its row and the consumer skips the effect, so handlers that are not
naturally idempotent become so.
"""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.models import InboxMessage


async def first_delivery(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """Record ``event_id`` for ``consumer``; False when it was already processed."""
    statement = (
        pg_insert(InboxMessage)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(InboxMessage.event_id)
    )
    return (await session.execute(statement)).first() is not None
