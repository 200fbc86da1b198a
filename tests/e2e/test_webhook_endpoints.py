"""Webhook endpoints through the API: the secret shown once, tenant isolation, validation,
delete, secret rotation, and a test send that reaches a real receiver, signed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from herald.api.auth import Role, digest, generate_key
from herald.common.db.engine import Database
from herald.common.db.models import ApiKey
from tests.e2e.conftest import OPERATOR_TOKEN, Tenant, eventually
from tests.webhook_receiver import Receiver, webhook_receiver

ENDPOINTS = "/v1/webhook-endpoints"


async def _other_tenant(api: httpx.AsyncClient) -> Tenant:
    response = await api.post(
        "/v1/tenants", json={"name": "other"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    body = response.json()
    return Tenant(body["tenant"]["id"], body["api_key"])


async def _create(api: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = await api.post(ENDPOINTS, headers=tenant.auth, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _delivered(
    api: httpx.AsyncClient, tenant: Tenant, endpoint_id: str, delivery_id: str
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def done() -> bool:
        page = await api.get(f"{ENDPOINTS}/{endpoint_id}/deliveries", headers=tenant.auth)
        assert page.status_code == 200, page.text
        found.update(next(d for d in page.json()["items"] if d["id"] == delivery_id))
        return bool(found["status"] == "delivered")

    await eventually(done, timeout=20)
    return found


async def test_the_secret_is_shown_once_and_never_again(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(
        api,
        tenant,
        url="https://hooks.example.com/herald",
        events=["alert.raised"],
        description="on-call",
    )
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["events"], created["description"]) == (
        "https://hooks.example.com/herald",
        ["alert.raised"],
        "on-call",
    )
    listed = await api.get(ENDPOINTS, headers=tenant.auth)
    one = await api.get(f"{ENDPOINTS}/{created['id']}", headers=tenant.auth)
    assert listed.status_code == one.status_code == 200
    assert [e["id"] for e in listed.json()] == [created["id"]]
    for response in (listed, one):
        assert created["secret"] not in response.text
        assert "secret" not in str(response.json()).replace("previous_secret_expires_at", "")
    assert one.json()["events"] == ["alert.raised"]


async def test_another_tenants_endpoint_is_not_found(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(api, tenant, url="https://hooks.example.com/a")
    other = await _other_tenant(api)
    path = f"{ENDPOINTS}/{created['id']}"
    for method, suffix in [
        ("GET", ""),
        ("DELETE", ""),
        ("POST", "/test"),
        ("POST", "/rotate-secret"),
        ("GET", "/deliveries"),
    ]:
        response = await api.request(method, path + suffix, headers=other.auth)
        assert response.status_code == 404, (method, suffix, response.text)
        assert response.json()["code"] == "webhook_endpoint_not_found"
    assert (await api.get(ENDPOINTS, headers=other.auth)).json() == []
    assert (await api.get(path, headers=tenant.auth)).status_code == 200


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"url": "ftp://x"}, "url"),
        ({"url": "https://user:pw@example.com/"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://example.com", "events": ["alert.exploded"]}, "events"),
        ({"url": "https://example.com", "secret": "whsec_mine"}, "secret"),
        ({}, "url"),
    ],
)
async def test_bad_requests_are_validation_errors(
    api: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], where: str
) -> None:
    response = await api.post(ENDPOINTS, headers=tenant.auth, json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert where in str(problem["errors"])


async def test_only_admins_manage_endpoints(
    api: httpx.AsyncClient, tenant: Tenant, e2e_db: Database
) -> None:
    key = generate_key()
    async with e2e_db.transaction() as session:
        session.add(
            ApiKey(
                tenant_id=uuid.UUID(tenant.id),
                name="viewer",
                role=Role.VIEWER,
                prefix=key[:10],
                key_hash=digest(key),
            )
        )
    viewer = {"Authorization": f"Bearer {key}"}
    assert (await api.get(ENDPOINTS, headers=viewer)).status_code == 403
    refused = await api.post(ENDPOINTS, headers=viewer, json={"url": "https://example.com"})
    assert refused.status_code == 403


async def test_a_deleted_endpoint_is_gone(api: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await _create(api, tenant, url="https://hooks.example.com/gone")
    deleted = await api.delete(f"{ENDPOINTS}/{created['id']}", headers=tenant.auth)
    assert deleted.status_code == 204
    assert (await api.get(f"{ENDPOINTS}/{created['id']}", headers=tenant.auth)).status_code == 404
    assert (
        await api.delete(f"{ENDPOINTS}/{created['id']}", headers=tenant.auth)
    ).status_code == 404
    assert created["id"] not in {
        e["id"] for e in (await api.get(ENDPOINTS, headers=tenant.auth)).json()
    }


async def test_a_tenant_has_at_most_twenty_endpoints(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = [await _create(api, tenant, url=f"https://hooks.example.com/{n}") for n in range(20)]
    refused = await api.post(
        ENDPOINTS, headers=tenant.auth, json={"url": "https://hooks.example.com/21"}
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "webhook_endpoint_limit")
    await api.delete(f"{ENDPOINTS}/{made[0]['id']}", headers=tenant.auth)
    again = await api.post(
        ENDPOINTS, headers=tenant.auth, json={"url": "https://hooks.example.com/x"}
    )
    assert again.status_code == 201


async def _test_send(
    api: httpx.AsyncClient, tenant: Tenant, endpoint: dict[str, Any], receiver: Receiver
) -> tuple[dict[str, Any], Any]:
    queued = await api.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=tenant.auth)
    assert queued.status_code == 202, queued.text
    delivery = queued.json()
    assert (delivery["event_type"], delivery["status"], delivery["tries"]) == (
        "webhook.test",
        "pending",
        [],
    )
    logged = await _delivered(api, tenant, endpoint["id"], delivery["id"])
    (got,) = receiver.of(delivery["id"])
    return logged, got


async def test_a_test_send_reaches_the_receiver_signed_and_is_logged(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with webhook_receiver() as receiver:
        endpoint = await _create(api, tenant, url=receiver.url, events=["alert.resolved"])
        logged, got = await _test_send(api, tenant, endpoint, receiver)
    assert got.verifies_with(endpoint["secret"])
    assert got.webhook_id == logged["id"]
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "Herald-Webhooks/1"
    assert got.json["type"] == "webhook.test"
    assert got.json["data"]["endpoint_id"] == endpoint["id"]
    assert (logged["attempts"], logged["last_http_status"]) == (1, 200)
    assert logged["finished_at"] is not None
    (attempt,) = logged["tries"]
    assert (attempt["number"], attempt["outcome"], attempt["http_status"]) == (1, "delivered", 200)


async def test_after_a_rotation_the_old_and_the_new_secret_both_verify(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with webhook_receiver(script=[500]) as receiver:
        endpoint = await _create(api, tenant, url=receiver.url)
        rotated = await api.post(f"{ENDPOINTS}/{endpoint['id']}/rotate-secret", headers=tenant.auth)
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()
        assert new["secret"].startswith("whsec_") and new["secret"] != endpoint["secret"]
        assert new["previous_secret_expires_at"] is not None
        queued = await api.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=tenant.auth)
        logged = await _delivered(api, tenant, endpoint["id"], queued.json()["id"])
        tries = receiver.of(logged["id"])
    assert len(tries) == 2  # one 500, then the retry got through with the same webhook-id
    assert [t["http_status"] for t in logged["tries"]] == [500, 200]
    for got in tries:
        assert got.verifies_with(new["secret"]) and got.verifies_with(endpoint["secret"])
