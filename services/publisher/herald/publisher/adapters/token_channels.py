"""The SQL of the token upkeep: ``ok`` OAuth channels that may need their tokens refreshed.

Two ways in: the access token expires before the policy's cut-off (``token_expires_at``, kept
in clear beside the sealed credentials, read through a partial index), or the channel has a
scheduled job within the look-ahead and a token that is not known to outlast it. Batches are
bounded and taken in id order (keyset), so a round sees every candidate once however many
cannot be refreshed. Nothing is locked here: the refresh takes the channel's row lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.credentials import Sealed
from herald.common.db.models import Channel, PublishJob
from herald.common.domain.job_states import JobStatus
from herald.publisher.domain.token_upkeep import UpkeepPolicy


@dataclass(frozen=True)
class Candidate:
    channel_id: uuid.UUID
    tenant_id: uuid.UUID
    platform: str
    config: dict[str, Any]
    sealed: Sealed
    next_slot: datetime | None  # its earliest scheduled job within the look-ahead


async def candidates(
    session: AsyncSession,
    platforms: Sequence[str],
    policy: UpkeepPolicy,
    now: datetime,
    after: uuid.UUID | None,
    limit: int,
) -> list[Candidate]:
    """The next ``limit`` candidates with ids above ``after``."""
    slots = (
        select(PublishJob.channel_id, func.min(PublishJob.scheduled_for).label("next_slot"))
        .where(
            PublishJob.status == JobStatus.SCHEDULED,
            PublishJob.scheduled_for <= policy.slots_before(now),
        )
        .group_by(PublishJob.channel_id)
        .cte("slots")
    )
    expiring = select(Channel.id).where(
        Channel.auth_state == "ok", Channel.token_expires_at <= policy.expiring_before(now)
    )
    slotted = (
        select(Channel.id)
        .join(slots, slots.c.channel_id == Channel.id)
        .where(
            or_(
                Channel.token_expires_at.is_(None),
                Channel.token_expires_at <= slots.c.next_slot + policy.slot_margin,
            )
        )
    )
    due = union(expiring, slotted).subquery("due")
    query = (
        select(
            Channel.id,
            Channel.tenant_id,
            Channel.platform,
            Channel.config,
            Channel.credentials_key_id,
            Channel.credentials_ciphertext,
            slots.c.next_slot,
        )
        .join(due, due.c.id == Channel.id)
        .outerjoin(slots, slots.c.channel_id == Channel.id)
        .where(
            Channel.auth_state == "ok",
            Channel.platform.in_(platforms),
            Channel.credentials_key_id.is_not(None),
            Channel.credentials_ciphertext.is_not(None),
        )
        .order_by(Channel.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Channel.id > after)
    rows = await session.execute(query)
    return [
        Candidate(
            row.id,
            row.tenant_id,
            row.platform,
            row.config,
            Sealed(row.credentials_key_id, row.credentials_ciphertext),
            row.next_slot,
        )
        for row in rows
    ]
