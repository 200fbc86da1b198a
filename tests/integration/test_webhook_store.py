"""Webhook delivery rows in real PostgreSQL: enqueue once per subscribed endpoint, orphans of
a deleted endpoint, and results fenced out after a claim was taken over."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from herald.alerter.adapters import delivery_store
from herald.alerter.domain.delivery_policy import RetrySchedule, TryResult, decide
from herald.common.db.engine import Database
from herald.common.db.models import WebhookEndpoint
from herald.common.ids import new_id
from herald.common.webhooks import enqueue
from tests.integration.webhook_rows import (
    add_endpoint,
    delivery,
    drive,
    raise_alert,
    sender,
    tries,
)
from tests.webhook_receiver import Receiver


async def test_enqueue_adds_one_delivery_per_subscribed_live_endpoint_once(
    db: Database, tenant_id: uuid.UUID
) -> None:
    everything, _ = await add_endpoint(db, tenant_id, "http://127.0.0.1:9/a")
    raised_only, _ = await add_endpoint(
        db, tenant_id, "http://127.0.0.1:9/b", events=["alert.raised"]
    )
    await add_endpoint(db, tenant_id, "http://127.0.0.1:9/c", events=["alert.resolved"])
    await add_endpoint(db, tenant_id, "http://127.0.0.1:9/d", deleted_at=datetime.now(UTC))
    event_id, now = new_id(), datetime.now(UTC)
    async with db.transaction() as session:
        first = await enqueue(
            session,
            tenant_id=tenant_id,
            event_type="alert.raised",
            event_id=event_id,
            payload={"alert": {"id": "a"}},
            now=now,
        )
        again = await enqueue(
            session,
            tenant_id=tenant_id,
            event_type="alert.raised",
            event_id=event_id,
            payload={"alert": {"id": "a"}},
            now=now,
        )
    assert len(first) == 2 and again == []
    rows = [await delivery(db, i) for i in first]
    assert {r.endpoint_id for r in rows} == {everything, raised_only}
    assert {(r.status, r.attempts, r.next_attempt_at) for r in rows} == {("pending", 0, now)}
    assert rows[0].payload == rows[1].payload and b'"type":"alert.raised"' in rows[0].payload
    async with db.transaction() as session:
        with pytest.raises(ValueError, match=r"webhook\.test"):
            await enqueue(
                session,
                tenant_id=tenant_id,
                event_type="webhook.test",
                event_id=new_id(),
                payload={},
                now=now,
            )


async def test_a_delivery_to_a_deleted_endpoint_fails_without_sending(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    endpoint_id, _ = await add_endpoint(db, tenant_id, receiver.url)
    (delivery_id,) = await raise_alert(db, tenant_id)
    async with db.transaction() as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(deleted_at=datetime.now(UTC))
        )
    sending = sender(db, database_url)
    await drive(sending, db, [delivery_id])
    await sending.aclose()
    assert receiver.received == []
    row = await delivery(db, delivery_id)
    assert (row.status, row.attempts, row.last_error) == ("failed", 0, "endpoint deleted")
    assert await tries(db, delivery_id) == []


async def test_a_result_recorded_by_another_sender_meanwhile_is_not_overwritten(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    await add_endpoint(db, tenant_id, receiver.url)
    (delivery_id,) = await raise_alert(db, tenant_id)
    now = datetime.now(UTC)
    claimed = await delivery_store.claim_due(db, now, limit=100, claim_s=0)
    (due,) = [d for d in claimed if d.delivery.id == delivery_id]
    sending = sender(db, database_url)  # the claim expired at once: a second sender takes over
    await drive(sending, db, [delivery_id])
    await sending.aclose()
    result = TryResult(500)
    record = delivery_store.TryRecord(now, now, result, 1.0, "late")
    decision = decide(1, result, now, RetrySchedule((0,)))
    assert not await delivery_store.record_try(db, due, record, decision)
    assert (await delivery(db, delivery_id)).status == "delivered"
    assert [t.worker for t in await tries(db, delivery_id)] != ["late"]
