"""Webhook endpoints of the tenant (admins only): alert events are POSTed to them, signed.

The secret is returned by create and rotate only; reads never show it. A test send and the
delivery log (newest first, keyset pages, every try) help a tenant wire up a receiver.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Response

from herald.api.auth import State, Who, require
from herald.api.schemas import (
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookSecretRotated,
    WebhookTryOut,
)
from herald.api.service_layer import audit, webhook_endpoints
from herald.common.db.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhook endpoints"])
log = structlog.get_logger(__name__)
ADMIN = [require()]  # no roles named: admins only


def _out(endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut.model_validate(endpoint, from_attributes=True)


def _delivery(delivery: WebhookDelivery, tries: list[WebhookDeliveryAttempt]) -> WebhookDeliveryOut:
    fields = {n: getattr(delivery, n) for n in WebhookDeliveryOut.model_fields if n != "tries"}
    fields["tries"] = [WebhookTryOut.model_validate(t, from_attributes=True) for t in tries]
    return WebhookDeliveryOut.model_validate(fields)


@router.post("", status_code=201, dependencies=ADMIN)
async def create_webhook_endpoint(
    body: WebhookEndpointIn, who: Who, state: State
) -> WebhookEndpointCreated:
    """The response carries the signing secret: store it, it is never shown again."""
    await webhook_endpoints.check_target(body.url, state.settings.webhook_allow_private_targets)
    async with state.db.transaction(who.tenant_id) as session:
        endpoint, secret = await webhook_endpoints.create(
            session,
            who.tenant_id,
            url=body.url,
            events=body.events,
            description=body.description,
            box=state.credentials,
        )
        audit.record(
            session,
            who.tenant_id,
            who,
            "webhook_endpoint.created",
            "webhook_endpoint",
            endpoint.id,
            url=endpoint.url,
        )
    log.info("webhook_endpoint.created", endpoint_id=str(endpoint.id), events=endpoint.events)
    return WebhookEndpointCreated(**_out(endpoint).model_dump(), secret=secret)


@router.get("", dependencies=ADMIN)
async def list_webhook_endpoints(who: Who, state: State) -> list[WebhookEndpointOut]:
    async with state.db.transaction(who.tenant_id) as session:
        return [_out(e) for e in await webhook_endpoints.list_live(session, who.tenant_id)]


@router.get("/{endpoint_id}", dependencies=ADMIN)
async def get_webhook_endpoint(
    endpoint_id: uuid.UUID, who: Who, state: State
) -> WebhookEndpointOut:
    async with state.db.transaction(who.tenant_id) as session:
        return _out(await webhook_endpoints.get(session, who.tenant_id, endpoint_id))


@router.delete("/{endpoint_id}", status_code=204, dependencies=ADMIN)
async def delete_webhook_endpoint(endpoint_id: uuid.UUID, who: Who, state: State) -> Response:
    """Nothing more is sent to it; its pending deliveries fail."""
    async with state.db.transaction(who.tenant_id) as session:
        await webhook_endpoints.delete(session, who.tenant_id, endpoint_id, datetime.now(UTC))
        audit.record(
            session,
            who.tenant_id,
            who,
            "webhook_endpoint.deleted",
            "webhook_endpoint",
            endpoint_id,
        )
    log.info("webhook_endpoint.deleted", endpoint_id=str(endpoint_id))
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", dependencies=ADMIN)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID, who: Who, state: State
) -> WebhookSecretRotated:
    """A new secret; deliveries carry a second signature made with the old one for 24 h."""
    async with state.db.transaction(who.tenant_id) as session:
        rotated = await webhook_endpoints.rotate_secret(
            session, who.tenant_id, endpoint_id, state.credentials, datetime.now(UTC)
        )
        audit.record(
            session,
            who.tenant_id,
            who,
            "webhook_endpoint.secret_rotated",
            "webhook_endpoint",
            endpoint_id,
        )
    log.info("webhook_endpoint.secret_rotated", endpoint_id=str(endpoint_id))
    return WebhookSecretRotated(
        id=rotated.endpoint_id,
        secret=rotated.secret,
        previous_secret_expires_at=rotated.previous_secret_expires_at,
    )


@router.post("/{endpoint_id}/test", status_code=202, dependencies=ADMIN)
async def send_test_webhook(endpoint_id: uuid.UUID, who: Who, state: State) -> WebhookDeliveryOut:
    """Queue a ``webhook.test`` delivery; follow it in the delivery log."""
    async with state.db.transaction(who.tenant_id) as session:
        delivery = await webhook_endpoints.send_test(
            session, who.tenant_id, endpoint_id, datetime.now(UTC)
        )
    log.info(
        "webhook_endpoint.test_queued", endpoint_id=str(endpoint_id), delivery_id=str(delivery.id)
    )
    return _delivery(delivery, [])


@router.get("/{endpoint_id}/deliveries", dependencies=ADMIN)
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID,
    who: Who,
    state: State,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: uuid.UUID | None = None,
) -> WebhookDeliveryPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    async with state.db.transaction(who.tenant_id) as session:
        page = await webhook_endpoints.delivery_log(
            session, who.tenant_id, endpoint_id, limit, cursor
        )
    items = [_delivery(d, page.tries.get(d.id, [])) for d in page.deliveries]
    return WebhookDeliveryPage(items=items, next_cursor=page.next_cursor)
