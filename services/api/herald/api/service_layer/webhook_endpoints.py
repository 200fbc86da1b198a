"""Tenant webhook endpoints: create (the secret shown once), rotate the secret, delete, test
send, and the delivery log. Secrets are sealed at rest; the alerter signs with them."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.service_layer.errors import Invalid, NotFound, Refused
from herald.common.credentials import CredentialBox
from herald.common.db.models import (
    Tenant,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
)
from herald.common.ids import new_id
from herald.common.url_guard import MalformedUrl, UnsafeUrl, resolve_and_check
from herald.common.webhooks import DeliveryStatus, enqueue_test, new_secret, seal_secret

ROTATION_OVERLAP = timedelta(hours=24)
"""How long the previous secret keeps signing after a rotation (receivers switch meanwhile)."""


class UrlForbidden(Invalid):
    """The URL points at an address Herald does not call (loopback, private, metadata …)."""

    def __init__(self, reason: str):
        super().__init__("webhook_url_forbidden", "Webhook URL not allowed", reason)


@dataclass(frozen=True)
class Rotated:
    endpoint_id: uuid.UUID
    secret: str
    previous_secret_expires_at: datetime


@dataclass(frozen=True)
class DeliveryLog:
    deliveries: Sequence[WebhookDelivery]
    tries: dict[uuid.UUID, list[WebhookDeliveryAttempt]]
    next_cursor: uuid.UUID | None


async def check_target(url: str, allow_private: bool) -> None:
    """Refuse a malformed URL (``validation_error``) or one whose literal or resolved addresses
    are forbidden (``webhook_url_forbidden``). A name that does not resolve (yet) is accepted:
    the sender checks again before every try."""
    try:
        await resolve_and_check(url, allow_private, timeout_s=3.0)
    except MalformedUrl as bad:
        raise Invalid(
            "validation_error",
            "Request is invalid",
            bad.reason,
            errors=[{"loc": ["body", "url"], "msg": bad.reason, "type": "value_error"}],
        ) from None
    except UnsafeUrl as unsafe:
        raise UrlForbidden(unsafe.reason) from None
    except (OSError, TimeoutError, UnicodeError):
        return


MAX_ENDPOINTS = 20
"""Every alert change is written once per endpoint, inside the notifier's transaction."""


async def create(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    url: str,
    events: Sequence[str],
    description: str,
    box: CredentialBox,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its plain secret (the only time it is returned)."""
    # the tenant row lock serialises concurrent creations, so the cap holds under races
    await session.scalar(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
    live = await session.scalar(
        select(func.count()).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.deleted_at.is_(None)
        )
    )
    if (live or 0) >= MAX_ENDPOINTS:
        raise Refused(
            "webhook_endpoint_limit",
            f"A tenant may have at most {MAX_ENDPOINTS} webhook endpoints",
            "delete one you no longer use",
        )
    secret = new_secret()
    sealed = seal_secret(box, secret)
    endpoint = WebhookEndpoint(
        id=new_id(),
        tenant_id=tenant_id,
        url=url,
        events=list(dict.fromkeys(events)),
        description=description,
        secret_ciphertext=sealed.ciphertext,
        secret_key_id=sealed.key_id,
    )
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return endpoint, secret


async def get(
    session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint:
    """A live endpoint of the tenant; another tenant's, or a deleted one, is not found."""
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.tenant_id == tenant_id,
        WebhookEndpoint.deleted_at.is_(None),
    )
    endpoint = await session.scalar(query.with_for_update() if lock else query)
    if endpoint is None:
        raise NotFound("webhook_endpoint")
    return endpoint


async def list_live(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.deleted_at.is_(None)
    )
    return (await session.scalars(query.order_by(WebhookEndpoint.id))).all()


async def delete(
    session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, now: datetime
) -> None:
    """Soft delete; its pending deliveries fail at once (a sender mid-try records nothing)."""
    endpoint = await get(session, tenant_id, endpoint_id, lock=True)
    endpoint.deleted_at = now
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(
            status=DeliveryStatus.FAILED,
            last_error="endpoint deleted",
            finished_at=now,
            claimed_until=None,
        )
    )


async def rotate_secret(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    box: CredentialBox,
    now: datetime,
) -> Rotated:
    """A new secret; the current one keeps signing beside it for ``ROTATION_OVERLAP``."""
    endpoint = await get(session, tenant_id, endpoint_id, lock=True)
    secret = new_secret()
    sealed = seal_secret(box, secret)
    endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
    endpoint.previous_secret_key_id = endpoint.secret_key_id
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret_ciphertext, endpoint.secret_key_id = sealed.ciphertext, sealed.key_id
    return Rotated(endpoint.id, secret, endpoint.previous_secret_expires_at)


async def send_test(
    session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, now: datetime
) -> WebhookDelivery:
    return await enqueue_test(session, await get(session, tenant_id, endpoint_id), now)


async def delivery_log(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    limit: int,
    cursor: uuid.UUID | None,
) -> DeliveryLog:
    """Newest first (keyset on the UUIDv7 id), each delivery with its tries."""
    endpoint = await get(session, tenant_id, endpoint_id)
    query = select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.tenant_id == tenant_id
    )
    if cursor is not None:
        query = query.where(WebhookDelivery.id < cursor)
    rows = (await session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1))).all()
    page = rows[:limit]
    tries: dict[uuid.UUID, list[WebhookDeliveryAttempt]] = defaultdict(list)
    if page:
        attempts = await session.scalars(
            select(WebhookDeliveryAttempt)
            .where(WebhookDeliveryAttempt.delivery_id.in_([d.id for d in page]))
            .order_by(WebhookDeliveryAttempt.number)
        )
        for attempt in attempts:
            tries[attempt.delivery_id].append(attempt)
    return DeliveryLog(page, dict(tries), page[-1].id if len(rows) > limit else None)
