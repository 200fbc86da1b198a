"""Pruning finished bookkeeping against real PostgreSQL: old finished rows go, everything
still in play stays."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from herald.common.db.engine import Database
from herald.common.db.models import (
    InboxMessage,
    OAuthConnection,
    OutboxMessage,
    PublishAttempt,
    PublishJob,
    WebhookDelivery,
)
from herald.common.domain.job_states import JobStatus
from herald.common.ids import new_id
from herald.recovery.domain.retention import RetentionPolicy
from herald.recovery.sweeps import prune_finished
from tests.integration.conftest import JobRows
from tests.integration.webhook_rows import add_endpoint, raise_alert

POLICY = RetentionPolicy(outbox_s=3600, inbox_s=3600, attempts_s=3600, deliveries_s=3600)
OLD = datetime.now(UTC) - timedelta(hours=2)
NEW = datetime.now(UTC) - timedelta(minutes=5)


async def _count(db: Database, model: type[object], *where: object) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


async def test_old_finished_rows_are_pruned_and_live_ones_kept(
    db: Database, job_rows: JobRows, tenant_id: uuid.UUID
) -> None:
    ids = {name: new_id() for name in ("sent_old", "sent_new", "unsent_old")}
    consumer = f"test-{uuid.uuid4().hex[:6]}"
    async with db.transaction() as session:
        for name, sent_at in (("sent_old", OLD), ("sent_new", NEW), ("unsent_old", None)):
            session.add(
                OutboxMessage(
                    id=ids[name],
                    subject="herald.test",
                    payload=b"{}",
                    created_at=OLD,
                    sent_at=sent_at,
                )
            )
        session.add(InboxMessage(consumer=consumer, event_id=ids["sent_old"], received_at=OLD))
        session.add(InboxMessage(consumer=consumer, event_id=ids["sent_new"], received_at=NEW))
        for number, (finished, outcome) in enumerate(((OLD, "failed"), (None, None)), start=1):
            session.add(
                PublishAttempt(
                    tenant_id=job_rows.tenant_id,
                    job_id=job_rows.job_id,
                    number=number,
                    worker="w",
                    fencing_token=1,
                    started_at=OLD,
                    finished_at=finished,
                    outcome=outcome,
                )
            )
    endpoint, _ = await add_endpoint(db, tenant_id, "http://127.0.0.1:9/hook")
    done, pending = await raise_alert(db, tenant_id), await raise_alert(db, tenant_id)
    async with db.transaction() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(done))
            .values(status="delivered", finished_at=OLD)
        )

    async def attempts() -> int:
        return await _count(db, PublishAttempt, PublishAttempt.job_id == job_rows.job_id)

    await prune_finished(db, POLICY)  # the job is still queued: its old attempt is kept
    assert await attempts() == 2
    async with db.transaction() as session:
        await session.execute(
            update(PublishJob)
            .where(PublishJob.id == job_rows.job_id)
            .values(status=JobStatus.SUCCEEDED)
        )
    await prune_finished(db, POLICY)

    assert await _count(db, OutboxMessage, OutboxMessage.id.in_(ids.values())) == 2
    assert await _count(db, OutboxMessage, OutboxMessage.id == ids["sent_old"]) == 0
    assert await _count(db, InboxMessage, InboxMessage.consumer == consumer) == 1
    assert await attempts() == 1, "the unfinished attempt stays"
    left = await _count(db, WebhookDelivery, WebhookDelivery.endpoint_id == endpoint)
    assert left == len(pending)


async def test_expired_oauth_connections_are_pruned_and_live_ones_kept(
    db: Database, tenant_id: uuid.UUID
) -> None:
    ids = {"expired": new_id(), "live": new_id()}
    async with db.transaction() as session:
        for name, expires_at in (
            ("expired", NEW),
            ("live", datetime.now(UTC) + timedelta(minutes=5)),
        ):
            session.add(
                OAuthConnection(
                    id=ids[name],
                    tenant_id=tenant_id,
                    platform="x",
                    state_hash=uuid.uuid4().bytes,
                    verifier_ciphertext=b"sealed",
                    verifier_key_id="dev",
                    redirect_uri="http://127.0.0.1/v1/oauth/callback/x",
                    name="n",
                    config={},
                    expires_at=expires_at,
                )
            )
    await prune_finished(db, POLICY)
    left = await _count(db, OAuthConnection, OAuthConnection.id.in_(ids.values()))
    assert left == 1
    assert await _count(db, OAuthConnection, OAuthConnection.id == ids["live"]) == 1
