"""Alert notifications end to end: the sandbox fails on demand, the alerter de-duplicates,
escalates, silences and inhibits, and a real receiver gets Standard Webhooks deliveries."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from herald.common.db.engine import Database
from herald.common.db.models import InboxMessage, OutboxMessage
from tests.e2e.conftest import OPERATOR_TOKEN, Tenant, eventually, make_channel
from tests.webhook_receiver import Receiver, webhook_receiver


async def _new_tenant(api: httpx.AsyncClient, name: str) -> Tenant:
    body = (
        await api.post(
            "/v1/tenants",
            json={"name": name},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
    ).json()
    return Tenant(body["tenant"]["id"], body["api_key"])


async def _endpoint(api: httpx.AsyncClient, tenant: Tenant, receiver: Receiver) -> dict[str, Any]:
    response = await api.post(
        "/v1/webhook-endpoints", headers=tenant.auth, json={"url": receiver.url}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _failing_channel(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, failures: int
) -> str:
    account = f"notify-{uuid.uuid4().hex[:8]}"
    channel = await make_channel(api, tenant, account)
    faults = {"account": account, "responses": [{"status": 422}] * failures}
    assert (await sandbox.post("/faults", json=faults)).status_code < 300
    return channel


async def _publish(api: httpx.AsyncClient, tenant: Tenant, channel: str, count: int) -> list[str]:
    """``count`` assets on ``channel``, approved; their job ids."""

    async def one(n: int) -> str:
        asset = await api.post(
            "/v1/assets",
            headers=tenant.auth,
            json={"title": f"post {n}", "body": "b", "channel_ids": [channel]},
        )
        approved = await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)
        assert approved.status_code == 200, approved.text
        return str(approved.json()["jobs"][0]["id"])

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def _alert(
    api: httpx.AsyncClient, tenant: Tenant, channel: str, **expected: Any
) -> dict[str, Any]:
    """The channel's newest alert, once every ``expected`` field has that value."""
    found: dict[str, Any] = {}

    async def check() -> bool:
        page = await api.get("/v1/alerts", params={"channel_id": channel}, headers=tenant.auth)
        items = page.json()["items"]
        found.clear()
        found.update(items[0] if items else {})
        return bool(items) and all(found.get(k) == v for k, v in expected.items())

    await eventually(check, timeout=60)
    return found


async def _deliveries(api: httpx.AsyncClient, tenant: Tenant, endpoint: str) -> list[Any]:
    response = await api.get(f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=tenant.auth)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_fifty_failures_make_one_escalated_alert_and_two_notifications_then_one_resolve(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    tenant = await _new_tenant(api, "fifty")
    async with webhook_receiver() as receiver:
        endpoint = await _endpoint(api, tenant, receiver)
        channel = await _failing_channel(api, sandbox, tenant, 50)
        jobs = await _publish(api, tenant, channel, 50)
        alert = await _alert(api, tenant, channel, occurrences=50, severity="critical")
        assert (alert["status"], alert["escalation_level"]) == ("active", 1)

        await eventually(lambda: _settled(receiver, alert["id"], 2), timeout=30)
        about = receiver.about(alert["id"])
        assert sorted(r.type for r in about) == ["alert.escalated", "alert.raised"]
        assert all(r.verifies_with(endpoint["secret"]) for r in about)
        escalated = next(r for r in about if r.type == "alert.escalated").json["data"]
        assert (escalated["previous_severity"], escalated["alert"]["severity"]) == (
            "error",
            "critical",
        )

        retried = await api.post(f"/v1/jobs/{jobs[0]}/retry", headers=tenant.auth)
        assert retried.status_code == 200, retried.text
        resolved = await _alert(api, tenant, channel, status="resolved")
        assert resolved["resolution"] == "auto"
        await eventually(lambda: _settled(receiver, alert["id"], 3), timeout=30)
        assert [r.type for r in receiver.about(alert["id"])].count("alert.resolved") == 1
        assert receiver.about(alert["id"])[-1].verifies_with(endpoint["secret"])
        assert len(receiver.received) == 3  # nothing else reached this tenant's endpoint


async def _settled(receiver: Receiver, alert_id: str, count: int) -> bool:
    return len(receiver.about(alert_id)) >= count


async def test_two_tenants_failing_at_once_never_see_each_others_alerts(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    first, second = await _new_tenant(api, "one"), await _new_tenant(api, "two")
    async with webhook_receiver() as one, webhook_receiver() as two:
        endpoints = [await _endpoint(api, first, one), await _endpoint(api, second, two)]
        channels = [
            await _failing_channel(api, sandbox, first, 3),
            await _failing_channel(api, sandbox, second, 3),
        ]
        await asyncio.gather(
            _publish(api, first, channels[0], 3), _publish(api, second, channels[1], 3)
        )
        alerts = [
            await _alert(api, first, channels[0], occurrences=3),
            await _alert(api, second, channels[1], occurrences=3),
        ]
        await eventually(lambda: _settled(one, alerts[0]["id"], 1), timeout=30)
        await eventually(lambda: _settled(two, alerts[1]["id"], 1), timeout=30)

        assert {r.json["data"]["alert"]["id"] for r in one.received} == {alerts[0]["id"]}
        assert {r.json["data"]["alert"]["id"] for r in two.received} == {alerts[1]["id"]}
        assert all(r.verifies_with(endpoints[0]["secret"]) for r in one.received)
        assert not any(r.verifies_with(endpoints[0]["secret"]) for r in two.received)

        listed = (await api.get("/v1/alerts", headers=first.auth)).json()["items"]
        assert {a["id"] for a in listed} == {alerts[0]["id"]}
        peek = await api.get(f"/v1/alerts/{alerts[0]['id']}", headers=second.auth)
        assert peek.status_code == 404
        foreign = await api.get(
            f"/v1/webhook-endpoints/{endpoints[0]['id']}/deliveries", headers=second.auth
        )
        assert foreign.status_code == 404


async def test_a_receiver_failing_three_times_gets_the_delivery_with_one_webhook_id(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    tenant = await _new_tenant(api, "flaky-receiver")
    async with webhook_receiver(script=[500, 500, 500]) as receiver:
        endpoint = await _endpoint(api, tenant, receiver)
        channel = await _failing_channel(api, sandbox, tenant, 1)
        await _publish(api, tenant, channel, 1)
        alert = await _alert(api, tenant, channel)
        await eventually(lambda: _settled(receiver, alert["id"], 4), timeout=30)

        tries = receiver.about(alert["id"])
        assert len(tries) == 4
        assert len({r.webhook_id for r in tries}) == 1
        assert len({r.body for r in tries}) == 1
        assert all(r.verifies_with(endpoint["secret"]) for r in tries)

        async def logged() -> bool:
            items = await _deliveries(api, tenant, endpoint["id"])
            return bool(items) and items[0]["status"] == "delivered"

        await eventually(logged, timeout=10)
        (delivery,) = await _deliveries(api, tenant, endpoint["id"])
        assert delivery["id"] in tries[0].webhook_id
        assert [t["http_status"] for t in delivery["tries"]] == [500, 500, 500, 200]


async def test_a_silenced_channel_stores_its_repeats_and_sends_nothing(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, e2e_db: Database
) -> None:
    tenant = await _new_tenant(api, "silenced")
    async with webhook_receiver() as receiver:
        endpoint = await _endpoint(api, tenant, receiver)
        channel = await _failing_channel(api, sandbox, tenant, 5)
        ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        silence = await api.post(
            "/v1/silences",
            headers=tenant.auth,
            json={"channel_id": channel, "reason": "screen replaced", "ends_at": ends},
        )
        assert silence.status_code == 201, silence.text
        assert silence.json()["active"] is True

        await _publish(api, tenant, channel, 5)
        alert = await _alert(
            api,
            tenant,
            channel,
            occurrences=5,
            escalation_level=1,
            notification=f"silenced:{silence.json()['id']}",
        )
        assert alert["status"] == "active"
        await eventually(lambda: _notifier_saw(e2e_db, alert["id"], 2), timeout=30)  # both
        assert await _deliveries(api, tenant, endpoint["id"]) == []
        assert receiver.received == []


async def _notifier_saw(db: Database, alert_id: str, events: int) -> bool:
    """The notifier has decided on ``events`` changes of the alert (its inbox says so)."""
    async with db.transaction() as session:
        ids = list(
            await session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.subject.like("herald.alerts.%"),
                    OutboxMessage.payload.contains(alert_id.encode()),
                )
            )
        )
        seen = await session.scalar(
            select(func.count()).where(
                InboxMessage.consumer == "alerter-notify", InboxMessage.event_id.in_(ids)
            )
        )
    return len(ids) >= events and seen == len(ids)


async def test_an_alert_sent_before_a_silence_is_still_resolved_at_the_endpoint(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    tenant = await _new_tenant(api, "silenced-later")
    async with webhook_receiver() as receiver:
        await _endpoint(api, tenant, receiver)
        channel = await _failing_channel(api, sandbox, tenant, 1)
        (job,) = await _publish(api, tenant, channel, 1)
        alert = await _alert(api, tenant, channel, notification="sent")
        await eventually(lambda: _settled(receiver, alert["id"], 1), timeout=30)
        ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        silence = await api.post(
            "/v1/silences",
            headers=tenant.auth,
            json={"channel_id": channel, "reason": "later", "ends_at": ends},
        )
        assert silence.status_code == 201
        assert (await api.post(f"/v1/jobs/{job}/retry", headers=tenant.auth)).status_code == 200
        await _alert(api, tenant, channel, status="resolved")
        await eventually(lambda: _settled(receiver, alert["id"], 2), timeout=30)
        assert [r.type for r in receiver.about(alert["id"])] == ["alert.raised", "alert.resolved"]


async def test_an_inhibited_channel_alert_sends_nothing_while_its_platform_alert_is_active(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    tenant = await _new_tenant(api, "inhibited")
    async with webhook_receiver() as receiver:
        await _endpoint(api, tenant, receiver)
        channels = [await _failing_channel(api, sandbox, tenant, 4) for _ in range(3)]
        await asyncio.gather(*(_publish(api, tenant, c, 4) for c in channels))

        async def platform_alert() -> dict[str, Any] | None:
            page = await api.get("/v1/alerts", params={"category": "platform"}, headers=tenant.auth)
            items = page.json()["items"]
            return items[0] if items and items[0]["status"] == "active" else None

        await eventually(platform_alert, timeout=30)
        platform = await platform_alert()
        assert platform is not None
        assert platform["dedup_key"] == "platform_failing:sandbox"

        late = await _failing_channel(api, sandbox, tenant, 1)
        await _publish(api, tenant, late, 1)
        alert = await _alert(api, tenant, late, notification=f"inhibited:{platform['id']}")
        assert alert["status"] == "active"
        await eventually(lambda: _settled(receiver, platform["id"], 1), timeout=30)
        assert receiver.about(alert["id"]) == []


async def test_a_manual_resolve_is_announced_to_the_endpoint(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    tenant = await _new_tenant(api, "manual")
    async with webhook_receiver() as receiver:
        endpoint = await _endpoint(api, tenant, receiver)
        channel = await _failing_channel(api, sandbox, tenant, 1)
        await _publish(api, tenant, channel, 1)
        alert = await _alert(api, tenant, channel, notification="sent")
        resolved = await api.post(f"/v1/alerts/{alert['id']}/resolve", headers=tenant.auth)
        assert (resolved.status_code, resolved.json()["resolution"]) == (200, "manual")
        await eventually(lambda: _settled(receiver, alert["id"], 2), timeout=30)
        last = receiver.about(alert["id"])[-1]
        assert (last.type, last.json["data"]["reason"]) == ("alert.resolved", "manual")
        assert last.verifies_with(endpoint["secret"])


async def test_refused_credentials_raise_a_channel_auth_alert(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    channel = await make_channel(api, tenant, f"auth-{uuid.uuid4().hex[:6]}", token="expired")
    (job,) = await _publish(api, tenant, channel, 1)
    alerts_page: dict[str, Any] = {}

    async def auth_alert() -> bool:
        page = await api.get("/v1/alerts", params={"category": "channel_auth"}, headers=tenant.auth)
        alerts_page.update(page.json())
        return bool(alerts_page["items"])

    await eventually(auth_alert, timeout=30)
    (alert,) = alerts_page["items"]
    assert (alert["channel_id"], alert["severity"], alert["dedup_key"]) == (
        channel,
        "error",
        f"channel_auth:{channel}",
    )
    status = (await api.get(f"/v1/jobs/{job}", headers=tenant.auth)).json()["status"]
    assert status == "waiting_auth"
    listed = await api.get("/v1/alerts", params={"channel_id": channel}, headers=tenant.auth)
    assert [a["category"] for a in listed.json()["items"]] == ["channel_auth"]  # one, not two
