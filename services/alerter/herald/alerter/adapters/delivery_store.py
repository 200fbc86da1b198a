"""Webhook deliveries in PostgreSQL: claim the due ones, record each try and its verdict.

A claim is committed on its own (``claimed_until``, taken with ``FOR UPDATE SKIP LOCKED``), so
no transaction stays open during the HTTP call and two senders never hold one delivery at
once. A sender that dies leaves its claim to expire; the delivery is then claimed again and
re-sent with the same ``webhook-id``. ``attempts`` is the fencing token: the result of a try
whose claim was taken over in the meantime is not recorded over the newer one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    exists,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from herald.alerter.domain.delivery_policy import DeliveryDecision, TryResult, Verdict
from herald.common.db.engine import Database
from herald.common.db.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from herald.common.webhooks import DeliveryStatus

ENDPOINT_DELETED = "endpoint deleted"


@dataclass(frozen=True)
class Due:
    """A claimed delivery and its endpoint (possibly deleted since the delivery was made)."""

    delivery: WebhookDelivery
    endpoint: WebhookEndpoint


@dataclass(frozen=True)
class TryRecord:
    """One try as the delivery log keeps it."""

    started_at: datetime
    finished_at: datetime
    result: TryResult
    duration_ms: float | None
    worker: str

    @property
    def error(self) -> str | None:
        if self.result.refused is not None:
            return f"refused: {self.result.refused}"
        if self.result.error is not None:
            return self.result.error
        status = self.result.http_status
        return None if status is None or 200 <= status < 300 else f"HTTP {status}"


_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_DUE = (  # pending, due, and claimed by no live sender
    # 'pending' written into the SQL, not bound: the partial index ix_webhook_deliveries_due
    # (status = 'pending') serves only a plan that sees the value, and a prepared statement
    # is planned generically once it has run a few times
    _DELIVERIES.c.status == literal_column(f"'{DeliveryStatus.PENDING.value}'"),
    _DELIVERIES.c.next_attempt_at <= bindparam("now"),
    or_(_DELIVERIES.c.claimed_until.is_(None), _DELIVERIES.c.claimed_until < bindparam("now")),
)
_ANY_DUE = select(exists().where(*_DUE))
"""Built once: nearly every poll finds nothing due, and asks only this."""


async def claim_due(db: Database, now: datetime, *, limit: int, claim_s: float) -> list[Due]:
    """Up to ``limit`` pending deliveries that are due and not claimed by a live sender."""
    if limit <= 0 or not await db.holds(_ANY_DUE, {"now": now}):
        return []
    due = (
        select(_DELIVERIES.c.id)
        .where(*_DUE)
        .order_by(_DELIVERIES.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with db.transaction() as session:
        claimed = (
            await session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(due.scalar_subquery()))
                .values(claimed_until=now + timedelta(seconds=claim_s))
                .returning(WebhookDelivery),
                {"now": now},
            )
        ).all()
        endpoints = await _endpoints(session, {d.endpoint_id for d in claimed})
    ordered = sorted(claimed, key=lambda d: d.next_attempt_at)
    return [Due(d, endpoints[d.endpoint_id]) for d in ordered]


async def _endpoints(
    session: AsyncSession, ids: set[uuid.UUID]
) -> dict[uuid.UUID, WebhookEndpoint]:
    if not ids:
        return {}
    rows = await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(ids)))
    return {endpoint.id: endpoint for endpoint in rows}


def _ours(delivery: WebhookDelivery) -> tuple[ColumnElement[bool], ...]:
    """Still pending with the attempts we claimed it with: nobody recorded a try since."""
    return (
        WebhookDelivery.id == delivery.id,
        WebhookDelivery.status == DeliveryStatus.PENDING,
        WebhookDelivery.attempts == delivery.attempts,
    )


async def record_try(
    db: Database, due: Due, attempt: TryRecord, decision: DeliveryDecision
) -> bool:
    """The attempt row and the delivery's new state, in one transaction.

    Returns False (and records nothing) when the delivery is no longer ours: its claim expired
    and another sender recorded a try, or its endpoint was deleted meanwhile.
    """
    delivery = due.delivery
    number = delivery.attempts + 1
    final = decision.verdict is not Verdict.RETRY
    status = {
        Verdict.DELIVERED: DeliveryStatus.DELIVERED,
        Verdict.RETRY: DeliveryStatus.PENDING,
        Verdict.GIVE_UP: DeliveryStatus.FAILED,
    }[decision.verdict]
    async with db.transaction() as session:
        updated = await session.scalar(
            update(WebhookDelivery)
            .where(*_ours(delivery))
            .values(
                status=status,
                attempts=number,
                next_attempt_at=decision.retry_at or attempt.finished_at,
                last_http_status=attempt.result.http_status,
                last_error=attempt.error,
                finished_at=attempt.finished_at if final else None,
                claimed_until=None,
            )
            .returning(WebhookDelivery.id)
        )
        if updated is None:
            return False
        session.add(
            WebhookDeliveryAttempt(
                tenant_id=delivery.tenant_id,
                delivery_id=delivery.id,
                number=number,
                started_at=attempt.started_at,
                finished_at=attempt.finished_at,
                outcome=decision.outcome,
                http_status=attempt.result.http_status,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
                worker=attempt.worker,
            )
        )
    return True


async def fail_orphan(db: Database, due: Due, now: datetime) -> bool:
    """A delivery whose endpoint was deleted fails without being sent (no attempt row)."""
    async with db.transaction() as session:
        updated = await session.scalar(
            update(WebhookDelivery)
            .where(*_ours(due.delivery))
            .values(
                status=DeliveryStatus.FAILED,
                last_error=ENDPOINT_DELETED,
                finished_at=now,
                claimed_until=None,
            )
            .returning(WebhookDelivery.id)
        )
    return updated is not None
