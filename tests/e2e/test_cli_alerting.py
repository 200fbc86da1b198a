"""``herald alerts|silences|webhooks`` as a real process against the running API."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import httpx

from tests.e2e.conftest import System, Tenant, eventually, make_channel


async def _cli(
    system: System, tenant: Tenant | None, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_API_")}
    env["HERALD_API_URL"] = system.api_url
    if tenant is not None:
        env["HERALD_API_KEY"] = tenant.key
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "herald.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_alerts_and_silences_from_the_cli(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, system: System
) -> None:
    account = f"cli-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    silenced = await _cli(
        system,
        tenant,
        "silences",
        "create",
        "--channel",
        channel,
        "--reason",
        "works",
        "--for",
        "2h",
    )
    assert silenced.returncode == 0, silenced.stderr
    assert silenced.stdout.startswith("silence ")

    await sandbox.post("/faults", json={"account": account, "responses": [{"status": 422}]})
    asset = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "t", "body": "b", "channel_ids": [channel]},
    )
    await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)

    async def listed() -> str:
        result = await _cli(system, tenant, "alerts", "list", "--channel", channel)
        return result.stdout if "active" in result.stdout else ""

    await eventually(listed, timeout=30, interval=0.5)
    alert_id = (await listed()).split()[0]
    acked = await _cli(system, tenant, "alerts", "ack", alert_id)
    assert (acked.returncode, acked.stdout.strip()) == (0, f"{alert_id} acknowledged")
    again = await _cli(system, tenant, "alerts", "ack", alert_id)
    assert again.returncode == 1
    assert again.stderr.strip().startswith("herald: alert_not_active")

    active = await _cli(system, tenant, "silences", "list", "--active")
    assert "active" in active.stdout and "works" in active.stdout


async def test_cli_errors_are_one_line(tenant: Tenant, system: System) -> None:
    no_key = await _cli(system, None, "alerts", "list")
    assert no_key.returncode == 2
    assert no_key.stderr.strip() == (
        "herald: set HERALD_API_KEY (or --api-key) to an API key of the tenant"
    )
    missing = await _cli(system, tenant, "alerts", "show", str(uuid.uuid4()))
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "herald: alert_not_found: Alert not found",
    )
    bad = await _cli(system, tenant, "silences", "create", "--reason", "r", "--for", "soon")
    assert bad.returncode == 2
    assert "not a duration" in bad.stderr
    assert "Traceback" not in bad.stderr + missing.stderr + no_key.stderr


async def test_webhook_endpoints_from_the_cli(tenant: Tenant, system: System) -> None:
    created = await _cli(system, tenant, "webhooks", "create", "http://127.0.0.1:9/hook")
    assert created.returncode == 0, created.stderr
    endpoint_id = created.stdout.split()[1]
    assert "whsec_" in created.stdout
    listed = await _cli(system, tenant, "webhooks", "list")
    assert endpoint_id in listed.stdout and "whsec_" not in listed.stdout
    refused = await _cli(system, tenant, "webhooks", "create", "ftp://example.com/x")
    assert refused.returncode == 1 and refused.stderr.startswith("herald: ")
    deleted = await _cli(system, tenant, "webhooks", "delete", endpoint_id)
    assert deleted.returncode == 0, deleted.stderr
