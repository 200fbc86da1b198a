"""Rows and a sender for the webhook integration tests (real PostgreSQL, the dev key ring)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from herald.alerter.deliveries import DeliverySender
from herald.alerter.settings import AlerterSettings
from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.db.models import Tenant, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from herald.common.ids import new_id
from herald.common.settings import DEV_CREDENTIAL_KEY
from herald.common.webhooks import enqueue, new_secret, seal_secret

BOX = CredentialBox.from_setting(f"dev:{DEV_CREDENTIAL_KEY}")


async def add_tenant(db: Database) -> uuid.UUID:
    tenant = Tenant(id=new_id(), name="webhooks")
    async with db.transaction() as session:
        session.add(tenant)
    return tenant.id


def sender(db: Database, database_url: str, **overrides: Any) -> DeliverySender:
    values: dict[str, Any] = {
        "database_url": database_url,
        "webhook_allow_private_targets": True,
        "webhook_retry_schedule_s": "0,0,0",
        "webhook_timeout_s": 2,
        "webhook_claim_s": 5,
        **overrides,
    }
    return DeliverySender(db, BOX, AlerterSettings(**values), f"test-{uuid.uuid4().hex[:6]}")


async def add_endpoint(
    db: Database, tenant_id: uuid.UUID, url: str, **fields: Any
) -> tuple[uuid.UUID, str]:
    secret = new_secret()
    sealed = seal_secret(BOX, secret)
    endpoint = WebhookEndpoint(
        id=new_id(),
        tenant_id=tenant_id,
        url=url,
        secret_ciphertext=sealed.ciphertext,
        secret_key_id=sealed.key_id,
        **fields,
    )
    async with db.transaction() as session:
        session.add(endpoint)
    return endpoint.id, secret


async def raise_alert(
    db: Database, tenant_id: uuid.UUID, event_type: str = "alert.raised"
) -> list[uuid.UUID]:
    async with db.transaction() as session:
        return await enqueue(
            session,
            tenant_id=tenant_id,
            event_type=event_type,
            event_id=new_id(),
            payload={"alert": {"id": str(new_id()), "severity": "error"}},
            now=datetime.now(UTC),
        )


async def delivery(db: Database, delivery_id: uuid.UUID) -> WebhookDelivery:
    async with db.transaction() as session:
        row = await session.get(WebhookDelivery, delivery_id)
    assert row is not None
    return row


async def statuses(db: Database, ids: list[uuid.UUID]) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(WebhookDelivery.status).where(WebhookDelivery.id.in_(ids))
        )
        return list(rows)


async def tries(db: Database, delivery_id: uuid.UUID) -> list[WebhookDeliveryAttempt]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(WebhookDeliveryAttempt)
            .where(WebhookDeliveryAttempt.delivery_id == delivery_id)
            .order_by(WebhookDeliveryAttempt.number)
        )
        return list(rows)


async def drive(
    sending: DeliverySender, db: Database, ids: list[uuid.UUID], rounds: int = 20
) -> None:
    """Send until none of ``ids`` is pending (the test schedules retry at once)."""
    for _ in range(rounds):
        if "pending" not in await statuses(db, ids):
            return
        await sending.send_due()
    raise AssertionError("deliveries still pending")
