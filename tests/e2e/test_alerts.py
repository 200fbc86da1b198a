"""Alerts through the API: raised by a dead letter, acknowledged, resolved by the next success."""

from __future__ import annotations

import uuid

import httpx

from tests.e2e.conftest import OPERATOR_TOKEN, Tenant, eventually, make_channel


async def _failing_job(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> tuple[str, str]:
    account = f"alerting-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await sandbox.post("/faults", json={"account": account, "responses": [{"status": 422}]})
    asset = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "t", "body": "b", "channel_ids": [channel]},
    )
    approved = await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)
    return channel, approved.json()["jobs"][0]["id"]


async def _alert_of(api: httpx.AsyncClient, tenant: Tenant, channel: str) -> dict[str, object]:
    found: dict[str, object] = {}

    async def listed() -> bool:
        page = (await api.get("/v1/alerts", headers=tenant.auth)).json()
        matches = [a for a in page["items"] if a["channel_id"] == channel]
        found.update(matches[0] if matches else {})
        return bool(matches)

    await eventually(listed, timeout=30)
    return found


async def test_an_alert_is_acknowledged_then_resolved_by_the_next_success(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    channel, job = await _failing_job(api, sandbox, tenant)
    alert = await _alert_of(api, tenant, channel)
    assert (alert["status"], alert["severity"], alert["occurrences"]) == ("active", "error", 1)

    acked = await api.post(f"/v1/alerts/{alert['id']}/acknowledge", headers=tenant.auth)
    assert acked.json()["status"] == "acknowledged"
    again = await api.post(f"/v1/alerts/{alert['id']}/acknowledge", headers=tenant.auth)
    assert (again.status_code, again.json()["code"]) == (409, "alert_not_active")

    assert (await api.post(f"/v1/jobs/{job}/retry", headers=tenant.auth)).status_code == 200

    async def resolved() -> bool:
        body = (await api.get(f"/v1/alerts/{alert['id']}", headers=tenant.auth)).json()
        return bool(body["status"] == "resolved")

    await eventually(resolved, timeout=30)
    body = (await api.get(f"/v1/alerts/{alert['id']}", headers=tenant.auth)).json()
    assert body["resolution"] == "auto"


async def test_alerts_are_paged_and_private_to_their_tenant(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    created = (
        await api.post(
            "/v1/tenants",
            json={"name": "paged"},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
    ).json()
    tenant = Tenant(created["tenant"]["id"], created["api_key"])
    channels = [(await _failing_job(api, sandbox, tenant))[0] for _ in range(3)]
    for channel in channels:
        await _alert_of(api, tenant, channel)
    first = (await api.get("/v1/alerts", params={"limit": 2}, headers=tenant.auth)).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"] is not None
    second = (
        await api.get(
            "/v1/alerts", params={"limit": 2, "cursor": first["next_cursor"]}, headers=tenant.auth
        )
    ).json()
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    ids = {a["id"] for a in first["items"] + second["items"]}
    assert len(ids) == 3

    other = (
        await api.post(
            "/v1/tenants",
            json={"name": "nosy"},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
    ).json()
    nosy = {"Authorization": f"Bearer {other['api_key']}"}
    assert (await api.get("/v1/alerts", headers=nosy)).json()["items"] == []
    peek = await api.get(f"/v1/alerts/{next(iter(ids))}", headers=nosy)
    assert (peek.status_code, peek.json()["code"]) == (404, "alert_not_found")
