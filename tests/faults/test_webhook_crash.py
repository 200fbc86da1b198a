"""The alerter killed between a webhook's response and recording it: the delivery is sent
again, with the same webhook-id, once the dead sender's claim expires."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.e2e.conftest import OPERATOR_TOKEN, Tenant, eventually
from tests.faults.conftest import StartFleet
from tests.webhook_receiver import webhook_receiver


async def test_alerter_killed_mid_notification_resends_with_the_same_webhook_id(
    start_fleet: StartFleet, tmp_path: Path
) -> None:
    armed = {
        "HERALD_FAULT": "alerter.mid_notification:kill",
        "HERALD_FAULT_MARKER": str(tmp_path / "fired"),
        "HERALD_WEBHOOK_TIMEOUT_S": "2",
        "HERALD_WEBHOOK_CLAIM_S": "3",  # the dead sender's claim runs out quickly
    }
    system = start_fleet({"alerter": armed})
    async with (
        httpx.AsyncClient(base_url=system.api_url, timeout=10) as api,
        webhook_receiver() as receiver,
    ):
        created = await api.post(
            "/v1/tenants",
            json={"name": "webhook-crash"},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
        tenant = Tenant(created.json()["tenant"]["id"], created.json()["api_key"])
        endpoint = (
            await api.post("/v1/webhook-endpoints", headers=tenant.auth, json={"url": receiver.url})
        ).json()
        queued = await api.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=tenant.auth)
        assert queued.status_code == 202, queued.text
        delivery_id = queued.json()["id"]

        async def delivered() -> bool:
            system.fleet.supervise_once(time.monotonic())  # restart the alerter, like `make run`
            page = await api.get(
                f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=tenant.auth
            )
            (item,) = page.json()["items"]
            return bool(item["status"] == "delivered")

        await eventually(delivered, timeout=60, interval=0.2)
        log = (
            await api.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=tenant.auth)
        ).json()["items"][0]

    assert (tmp_path / "fired").exists()
    tries = receiver.of(delivery_id)
    assert len(tries) == 2  # the first answer was never recorded: sent again
    assert all(t.verifies_with(endpoint["secret"]) for t in tries)
    assert tries[0].body == tries[1].body
    assert [t["outcome"] for t in log["tries"]] == ["delivered"]  # only the recorded try
