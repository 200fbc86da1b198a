"""Deleting finished bookkeeping in bounded batches that replicas never contend for."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from herald.common.db.models import (
    IdempotencyKey,
    InboxMessage,
    OAuthConnection,
    OutboxMessage,
    PublishAttempt,
    PublishJob,
    RateLimitBucket,
    WebhookDelivery,
)
from herald.common.domain.job_states import TERMINAL
from herald.recovery.domain.retention import RetentionCutoffs


async def _delete_batch(
    session: AsyncSession,
    table: type[object],
    key: InstrumentedAttribute[object],
    where: list[ColumnElement[bool]],
    limit: int,
) -> int:
    chosen = select(key).where(*where).limit(limit).with_for_update(skip_locked=True)
    result = await session.execute(delete(table).where(key.in_(chosen.scalar_subquery())))
    return int(getattr(result, "rowcount", 0) or 0)


async def prune(session: AsyncSession, cutoffs: RetentionCutoffs, limit: int) -> dict[str, int]:
    """One batch per table; returns how many rows went from each."""
    finished_job = select(PublishJob.id).where(
        PublishJob.id == PublishAttempt.job_id, PublishJob.status.in_([s.value for s in TERMINAL])
    )
    return {
        "outbox": await _delete_batch(
            session,
            OutboxMessage,
            OutboxMessage.id,
            [OutboxMessage.sent_at < cutoffs.outbox_sent_before],
            limit,
        ),
        "inbox": await _prune_inbox(session, cutoffs, limit),
        "publish_attempts": await _delete_batch(
            session,
            PublishAttempt,
            PublishAttempt.id,
            [PublishAttempt.finished_at < cutoffs.attempts_finished_before, finished_job.exists()],
            limit,
        ),
        "webhook_deliveries": await _delete_batch(
            session,
            WebhookDelivery,
            WebhookDelivery.id,
            [WebhookDelivery.finished_at < cutoffs.deliveries_finished_before],
            limit,
        ),
        "idempotency_keys": await _prune_idempotency_keys(session, limit),
        # A connection past its expiry can no longer be finished, used or not.
        "oauth_connections": await _delete_batch(
            session,
            OAuthConnection,
            OAuthConnection.id,
            [OAuthConnection.expires_at < func.now()],
            limit,
        ),
        # An API key's bucket whose TAT has passed is full: deleting it changes nothing.
        "rate_limit_buckets": await _delete_batch(
            session,
            RateLimitBucket,
            RateLimitBucket.key,
            [RateLimitBucket.key.startswith("api-key:"), RateLimitBucket.tat < func.now()],
            limit,
        ),
    }


async def _prune_inbox(session: AsyncSession, cutoffs: RetentionCutoffs, limit: int) -> int:
    key = tuple_(InboxMessage.consumer, InboxMessage.event_id)  # its primary key
    chosen = (
        select(InboxMessage.consumer, InboxMessage.event_id)
        .where(InboxMessage.received_at < cutoffs.inbox_received_before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(delete(InboxMessage).where(key.in_(chosen)))
    return int(getattr(result, "rowcount", 0) or 0)


async def _prune_idempotency_keys(session: AsyncSession, limit: int) -> int:
    """Records past the expiry the API gave them (``HERALD_IDEMPOTENCY_TTL_S``, by the
    database's clock, as they were written)."""
    key = tuple_(IdempotencyKey.api_key_id, IdempotencyKey.key)  # its primary key
    chosen = (
        select(IdempotencyKey.api_key_id, IdempotencyKey.key)
        .where(IdempotencyKey.expires_at < func.now())
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(delete(IdempotencyKey).where(key.in_(chosen)))
    return int(getattr(result, "rowcount", 0) or 0)
