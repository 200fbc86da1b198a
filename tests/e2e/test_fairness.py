"""Scheduling between tenants and priorities, observed at the sandbox."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx

from tests.e2e.conftest import OPERATOR_TOKEN, Tenant, eventually, make_channel


async def _new_tenant(api: httpx.AsyncClient) -> Tenant:
    response = await api.post(
        "/v1/tenants", json={"name": "t"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    body = response.json()
    return Tenant(body["tenant"]["id"], body["api_key"])


async def _approve(
    api: httpx.AsyncClient, tenant: Tenant, channel: str, priority: str = "normal"
) -> dict[str, str]:
    asset = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "t", "body": "b", "channel_ids": [channel], "priority": priority},
    )
    approved = await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)
    assert approved.status_code == 200, approved.text
    return {
        **approved.json()["jobs"][0],
        "approved_at": approved.json()["approved_at"],
        "asset_id": asset.json()["id"],
    }


async def test_one_tenants_backlog_does_not_hold_up_another(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    busy, quiet = await _new_tenant(api), await _new_tenant(api)
    account = f"busy-{uuid.uuid4().hex[:6]}"
    busy_channel = await make_channel(api, busy, account)
    await sandbox.post(
        "/faults",
        json={
            "account": account,
            "responses": [{"status": 201, "delay_ms": 1000} for _ in range(40)],
        },
    )
    await asyncio.gather(*(_approve(api, busy, busy_channel) for _ in range(40)))
    await asyncio.sleep(0.3)  # the busy tenant's jobs now hold their share of the workers

    quiet_channel = await make_channel(api, quiet, f"quiet-{uuid.uuid4().hex[:6]}")
    job = await _approve(api, quiet, quiet_channel)

    async def done() -> bool:
        body = (await api.get(f"/v1/jobs/{job['id']}", headers=quiet.auth)).json()
        return bool(body["status"] == "succeeded")

    await eventually(done, timeout=30, interval=0.02)
    body = (await api.get(f"/v1/jobs/{job['id']}", headers=quiet.auth)).json()
    waited = (
        datetime.fromisoformat(body["finished_at"]) - datetime.fromisoformat(job["approved_at"])
    ).total_seconds()
    print(f"\nfigure: the quiet tenant's job took {waited:.3f}s behind a 40-job backlog")
    assert waited < 0.9, f"the quiet tenant waited {waited:.2f}s behind the busy one"
    busy_posts = (await sandbox.get("/posts", params={"account": account})).json()
    assert len(busy_posts) < 40, "the busy tenant was still working through its backlog"


async def test_high_priority_jobs_overtake_a_low_priority_backlog(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    tenant = await _new_tenant(api)
    slow, fast = f"backlog-{uuid.uuid4().hex[:6]}", f"urgent-{uuid.uuid4().hex[:6]}"
    slow_channel, fast_channel = [await make_channel(api, tenant, a) for a in (slow, fast)]
    await sandbox.post(
        "/faults",
        json={
            "account": slow,
            # slow enough that the backlog outlasts its own approval on a loaded machine
            "responses": [{"status": 201, "delay_ms": 2000} for _ in range(200)],
        },
    )
    limit = asyncio.Semaphore(20)

    async def low() -> dict[str, str]:
        async with limit:
            return await _approve(api, tenant, slow_channel, "low")

    backlog_jobs = await asyncio.gather(*(low() for _ in range(200)))
    first_urgent = datetime.now(UTC)
    urgent = await asyncio.gather(*(_approve(api, tenant, fast_channel, "high") for _ in range(10)))

    async def urgent_done() -> bool:
        return len((await sandbox.get("/posts", params={"account": fast})).json()) == 10

    await eventually(urgent_done, timeout=60, interval=0.05)
    last_urgent = max(
        datetime.fromisoformat(p["received_at"])
        for p in (await sandbox.get("/posts", params={"account": fast})).json()
    )
    backlog = (await sandbox.get("/posts", params={"account": slow})).json()
    times = [datetime.fromisoformat(p["received_at"]) for p in backlog]
    waiting = sum(t >= first_urgent for t in times) + (200 - len(times))
    overtaken = sum(first_urgent <= t < last_urgent for t in times)
    print(
        f"\nfigure: {waiting} low jobs were still waiting when 10 high ones arrived; "
        f"{overtaken} of them went out before the last high one, "
        f"{(last_urgent - first_urgent).total_seconds():.2f} s after the first was approved"
    )
    assert waiting >= 100, "the backlog was still there when the high jobs came"
    assert overtaken < waiting / 2, "the high jobs finished before most of the backlog"
    assert len(urgent) == 10
    await asyncio.gather(*(_cancel(api, tenant, job["asset_id"]) for job in backlog_jobs))
    await sandbox.request("DELETE", "/faults", params={"account": slow})


async def _cancel(api: httpx.AsyncClient, tenant: Tenant, asset_id: str) -> None:
    await api.post(f"/v1/assets/{asset_id}/cancel", headers=tenant.auth)
