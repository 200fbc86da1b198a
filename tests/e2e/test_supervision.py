"""A service that dies is restarted by the supervisor and picks up the work that waited."""

from __future__ import annotations

import signal
import time
import uuid

import httpx

from herald.cli.fleet import ServiceProcess
from tests.e2e.conftest import System, Tenant, eventually, make_channel


async def test_killed_publisher_is_restarted_and_publishes_what_waited(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, system: System
) -> None:
    publisher, other = system.fleet["publisher"], system.fleet["publisher-2"]
    other.signal(signal.SIGSTOP)  # only the restarted publisher can do the waiting work
    try:
        await _kill_restart_and_publish(api, sandbox, tenant, system, publisher)
    finally:
        other.signal(signal.SIGCONT)


async def _kill_restart_and_publish(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    tenant: Tenant,
    system: System,
    publisher: ServiceProcess,
) -> None:
    old_pid = publisher.pid
    publisher.signal(signal.SIGKILL)

    async def dead() -> bool:
        return not publisher.alive

    await eventually(dead, timeout=5)

    account = f"waited-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    asset = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "While the publisher was down", "body": "b", "channel_ids": [channel]},
    )
    job = (await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)).json()[
        "jobs"
    ][0]

    async def restarted() -> bool:
        system.fleet.supervise_once(time.monotonic())
        return publisher.alive and publisher.pid != old_pid

    await eventually(restarted, timeout=30)

    async def posted() -> bool:
        response = await sandbox.get("/posts", params={"account": account})
        return len(response.json()) == 1

    await eventually(posted, timeout=60)
    found: dict[str, object] = {}

    async def recorded() -> bool:  # the outcome commits just after the platform answers
        found.update((await api.get(f"/v1/jobs/{job['id']}", headers=tenant.auth)).json())
        return found["status"] == "succeeded"

    await eventually(recorded, timeout=15)
    assert isinstance(found["attempts"], list) and len(found["attempts"]) == 1


async def test_sigterm_lets_the_in_flight_post_finish(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, system: System
) -> None:
    account = f"slow-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await sandbox.post(
        "/faults", json={"account": account, "responses": [{"status": 201, "delay_ms": 2000}]}
    )
    asset = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "slow", "body": "b", "channel_ids": [channel]},
    )
    job = (await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)).json()[
        "jobs"
    ][0]

    async def processing() -> bool:
        body = (await api.get(f"/v1/jobs/{job['id']}", headers=tenant.auth)).json()
        return bool(body["status"] == "processing")

    await eventually(processing, timeout=30, interval=0.02)
    body = (await api.get(f"/v1/jobs/{job['id']}", headers=tenant.auth)).json()
    worker_pid = int(body["attempts"][-1]["worker"].rsplit(":", 1)[1])
    [publisher] = [p for p in system.fleet.processes.values() if p.pid == worker_pid]
    publisher.signal(signal.SIGTERM)

    async def exited() -> bool:
        return not publisher.alive

    await eventually(exited, timeout=30)
    assert publisher.proc is not None
    assert publisher.proc.returncode == 0
    body = (await api.get(f"/v1/jobs/{job['id']}", headers=tenant.auth)).json()
    assert body["status"] == "succeeded", "the in-flight attempt was finished and recorded"
    assert [a["outcome"] for a in body["attempts"]] == ["succeeded"]
    publisher.start()
    system.fleet.wait_ready(timeout=60)
