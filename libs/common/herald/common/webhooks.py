"""Tenant webhook endpoints: their secrets, the body they receive, and enqueuing deliveries.

Shared by the API (creates endpoints, rotates secrets, test sends) and the alerter (its notifier
calls ``enqueue`` inside its consumer's transaction; the sender delivers the rows). A delivery
row holds the exact bytes that are signed and sent, so every try sends the same body.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic_core import to_json
from sqlalchemy import any_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.credentials import CredentialBox, CredentialKeyError, Sealed
from herald.common.db.models import WebhookDelivery, WebhookEndpoint
from herald.common.ids import new_id

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64 bytes of key
TEST_EVENT = "webhook.test"
ALERT_EVENT_TYPES = ("alert.raised", "alert.escalated", "alert.resolved")
EVENT_TYPES = (*ALERT_EVENT_TYPES, TEST_EVENT)
"""Event types an endpoint may subscribe to (``events``; empty means all)."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next try (or being tried: ``claimed_until``)
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # given up: the schedule ran out, or the endpoint was deleted


def new_secret() -> str:
    """``whsec_`` + standard base64 of 32 random bytes (a secret that is not valid base64 is
    silently accepted by standardwebhooks and decodes to garbage, so never hand-make one)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def seal_secret(box: CredentialBox, secret: str) -> Sealed:
    return box.seal({"secret": secret})


def open_secret(box: CredentialBox, ciphertext: bytes, key_id: str) -> str:
    secret = box.open(Sealed(key_id, ciphertext)).get("secret")
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise CredentialKeyError(f"the webhook secret sealed with key {key_id!r} is malformed")
    return secret


def endpoint_secrets(box: CredentialBox, endpoint: WebhookEndpoint) -> tuple[str, str | None]:
    """The endpoint's current secret, and the previous one while a rotation keeps it (or None;
    whether it still signs depends on ``previous_secret_expires_at``)."""
    current = open_secret(box, endpoint.secret_ciphertext, endpoint.secret_key_id)
    ciphertext, key_id = endpoint.previous_secret_ciphertext, endpoint.previous_secret_key_id
    previous = open_secret(box, ciphertext, key_id) if ciphertext and key_id else None
    return current, previous


def render_body(event_type: str, timestamp: datetime, data: Mapping[str, Any]) -> bytes:
    """The Standard Webhooks payload ``{"type", "timestamp", "data"}`` as compact JSON.

    ``timestamp`` is when the event happened (UTC, ISO 8601); UUIDs and datetimes in ``data``
    are rendered as strings.
    """
    body = {"type": event_type, "timestamp": timestamp.astimezone(UTC), "data": dict(data)}
    return to_json(body)


async def enqueue(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    event_type: str,
    event_id: uuid.UUID,
    payload: Mapping[str, Any],
    now: datetime,
    occurred_at: datetime | None = None,
) -> list[uuid.UUID]:
    """One pending delivery per live endpoint of the tenant subscribed to ``event_type``.

    Runs in the caller's transaction. ``payload`` is the ``data`` of the body; ``occurred_at``
    (default ``now``) its ``timestamp``. An event enqueued again (a redelivered message) adds
    nothing: (endpoint, event) is unique. Returns the ids of the deliveries added.
    """
    if event_type not in ALERT_EVENT_TYPES:
        raise ValueError(f"{event_type!r} is not an event endpoints subscribe to")
    subscribed = or_(
        func.cardinality(WebhookEndpoint.events) == 0, any_(WebhookEndpoint.events) == event_type
    )
    endpoints = (
        await session.scalars(
            select(WebhookEndpoint.id).where(
                WebhookEndpoint.tenant_id == tenant_id,
                WebhookEndpoint.deleted_at.is_(None),
                subscribed,
            )
        )
    ).all()
    if not endpoints:
        return []
    body = render_body(event_type, occurred_at or now, payload)
    rows = [
        {
            "id": new_id(),
            "tenant_id": tenant_id,
            "endpoint_id": endpoint_id,
            "event_id": event_id,
            "event_type": event_type,
            "payload": body,
            "next_attempt_at": now,
        }
        for endpoint_id in endpoints
    ]
    added = await session.scalars(
        insert(WebhookDelivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        .returning(WebhookDelivery.id)
    )
    return list(added.all())


async def enqueue_test(
    session: AsyncSession, endpoint: WebhookEndpoint, now: datetime
) -> WebhookDelivery:
    """A ``webhook.test`` delivery to this one endpoint, due now (whatever it subscribes to)."""
    event_id = new_id()
    data = {
        "endpoint_id": endpoint.id,
        "message": "Test delivery from Herald: your endpoint receives and verifies webhooks.",
    }
    delivery = WebhookDelivery(
        id=new_id(),
        tenant_id=endpoint.tenant_id,
        endpoint_id=endpoint.id,
        event_id=event_id,
        event_type=TEST_EVENT,
        payload=render_body(TEST_EVENT, now, data),
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(delivery)
    await session.flush()
    await session.refresh(delivery)
    return delivery
