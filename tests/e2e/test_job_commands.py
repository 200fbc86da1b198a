"""Cancel, manual retry and bulk redrive, through the HTTP API and the `herald` CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from herald.common.db.engine import Database
from tests.e2e.conftest import System, Tenant, eventually, insert_queued_job, make_channel


async def _approved_job(
    api: httpx.AsyncClient, tenant: Tenant, channel: str, **extra: object
) -> dict[str, str]:
    asset = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "t", "body": "b", "channel_ids": [channel], **extra},
    )
    approved = await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)
    job: dict[str, str] = {**approved.json()["jobs"][0], "asset_id": asset.json()["id"]}
    return job


async def _status_is(api: httpx.AsyncClient, tenant: Tenant, job_id: str, status: str) -> None:
    async def check() -> bool:
        body = (await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()
        return bool(body["status"] == status)

    await eventually(check, timeout=30, interval=0.02)


async def _job(api: httpx.AsyncClient, tenant: Tenant, job_id: str) -> dict[str, object]:
    body: dict[str, object] = (await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()
    return body


async def test_a_dead_lettered_job_is_retried_by_hand(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"retry-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await sandbox.post("/faults", json={"account": account, "responses": [{"status": 422}]})
    job = await _approved_job(api, tenant, channel)
    await _status_is(api, tenant, job["id"], "failed")

    response = await api.post(f"/v1/jobs/{job['id']}/retry", headers=tenant.auth)
    assert response.status_code == 200, response.text
    await _status_is(api, tenant, job["id"], "succeeded")
    attempts = (await _job(api, tenant, job["id"]))["attempts"]
    assert isinstance(attempts, list)
    assert [a["outcome"] for a in attempts] == ["failed", "succeeded"]
    again = await api.post(f"/v1/jobs/{job['id']}/retry", headers=tenant.auth)
    assert (again.status_code, again.json()["code"]) == (409, "job_not_retryable")
    cancel = await api.post(f"/v1/jobs/{job['id']}/cancel", headers=tenant.auth)
    assert (cancel.status_code, cancel.json()["code"]) == (409, "job_not_cancellable")


async def test_a_cancelled_scheduled_asset_is_never_published(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"called-off-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    when = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    job = await _approved_job(api, tenant, channel, scheduled_for=when)
    cancelled = await api.post(f"/v1/assets/{job['asset_id']}/cancel", headers=tenant.auth)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert [j["status"] for j in cancelled.json()["jobs"]] == ["cancelled"]
    await asyncio.sleep(4)
    assert (await sandbox.get("/posts", params={"account": account})).json() == []
    assert (await _job(api, tenant, job["id"]))["status"] == "cancelled"


async def test_cancel_mid_call_keeps_a_post_that_went_out(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"midcall-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await sandbox.post(
        "/faults", json={"account": account, "responses": [{"status": 201, "delay_ms": 1500}]}
    )
    job = await _approved_job(api, tenant, channel)
    await _status_is(api, tenant, job["id"], "processing")
    response = await api.post(f"/v1/jobs/{job['id']}/cancel", headers=tenant.auth)
    assert response.status_code == 200, response.text
    assert response.json()["cancel_requested"] is True
    await _status_is(api, tenant, job["id"], "succeeded")
    assert len((await sandbox.get("/posts", params={"account": account})).json()) == 1


async def test_cancel_mid_call_stops_retries_after_a_failed_call(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"midfail-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await sandbox.post(
        "/faults", json={"account": account, "responses": [{"status": 503, "delay_ms": 1500}]}
    )
    job = await _approved_job(api, tenant, channel)
    await _status_is(api, tenant, job["id"], "processing")
    await api.post(f"/v1/jobs/{job['id']}/cancel", headers=tenant.auth)
    await _status_is(api, tenant, job["id"], "cancelled")
    await asyncio.sleep(3)  # longer than any first retry delay
    body = await _job(api, tenant, job["id"])
    assert body["status"] == "cancelled"
    assert isinstance(body["attempts"], list)
    assert len(body["attempts"]) == 1
    assert (await sandbox.get("/posts", params={"account": account})).json() == []


def _herald(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HERALD_DATABASE_URL": system.database_url}
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_bulk_redrive_from_the_cli(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, system: System
) -> None:
    account, _channel, jobs = await _two_failed_jobs(api, sandbox, tenant, "redrive")

    dry = await asyncio.to_thread(
        _herald, system, "jobs", "redrive", "--tenant", tenant.id, "--dry-run"
    )
    assert dry.returncode == 0, dry.stderr
    assert "would requeue 2 job(s)" in dry.stdout
    assert (await _job(api, tenant, jobs[0]["id"]))["status"] == "failed"

    done = await asyncio.to_thread(
        _herald,
        system,
        "jobs",
        "redrive",
        "--status",
        "failed",
        "--platform",
        "sandbox",
        "--tenant",
        tenant.id,
    )
    assert done.returncode == 0, done.stderr
    assert "requeued 2 job(s)" in done.stdout
    for job in jobs:
        await _status_is(api, tenant, job["id"], "succeeded")
    assert len((await sandbox.get("/posts", params={"account": account})).json()) == 2


async def test_cli_refuses_bad_input_in_one_line(system: System) -> None:
    for args, needle in [
        (
            ("jobs", "redrive", "--status", "queued"),
            "--status must be failed, cancelled, missed or waiting_auth",
        ),
        (("jobs", "redrive", "--tenant", "acme"), "is not a tenant id"),
        (("tenants", "create", " "), "must not be empty"),
    ]:
        result = await asyncio.to_thread(_herald, system, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert needle in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


async def test_herald_recover_shows_then_heals_a_stranded_job(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    tenant: Tenant,
    system: System,
    e2e_db: Database,
) -> None:
    recovery = system.fleet["recovery"]
    recovery.stop()  # the operator's CLI does the sweep this time
    try:
        account = f"stranded-{uuid.uuid4().hex[:6]}"
        channel = await make_channel(api, tenant, account)
        asset = await api.post(
            "/v1/assets",
            headers=tenant.auth,
            json={"title": "t", "body": "b", "channel_ids": [channel]},
        )
        long_ago = datetime.now(UTC) - timedelta(minutes=5)
        job = await insert_queued_job(e2e_db, tenant, asset.json()["id"], channel, long_ago)

        dry = await asyncio.to_thread(_herald, system, "recover", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"queued_stale  job {job.id}" in dry.stdout
        await asyncio.sleep(1)
        assert (await sandbox.get("/posts", params={"account": account})).json() == []

        done = await asyncio.to_thread(_herald, system, "recover")
        assert done.returncode == 0, done.stderr
        assert "recovered:" in done.stdout
        assert "queued_stale" in done.stdout
        await _status_is(api, tenant, str(job.id), "succeeded")
        assert len((await sandbox.get("/posts", params={"account": account})).json()) == 1
    finally:
        recovery.start()
        system.fleet.wait_ready(timeout=60)


async def test_bulk_redrive_through_the_api_is_scoped_to_the_tenant(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    _account, channel, jobs = await _two_failed_jobs(api, sandbox, tenant, "api-redrive")
    response = await api.post(
        "/v1/jobs/redrive", headers=tenant.auth, json={"status": "failed", "channel_id": channel}
    )
    assert response.status_code == 200, response.text
    assert response.json()["requeued"] == 2
    assert sorted(response.json()["job_ids"]) == sorted(j["id"] for j in jobs)
    for job in jobs:
        await _status_is(api, tenant, job["id"], "succeeded")
    bad = await api.post("/v1/jobs/redrive", headers=tenant.auth, json={"status": "queued"})
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")


async def test_exhausted_attempts_dead_letter_the_job(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"exhausted-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await sandbox.post("/faults", json={"account": account, "responses": [{"status": 503}] * 5})
    job = await _approved_job(api, tenant, channel)

    async def failed() -> bool:
        body = await _job(api, tenant, job["id"])
        return body["status"] == "failed"

    await eventually(failed, timeout=60, interval=0.1)
    body = await _job(api, tenant, job["id"])
    attempts = body["attempts"]
    assert isinstance(attempts, list)
    assert [a["http_status"] for a in attempts] == [503] * 5, "five attempts, then the dead letter"
    assert (await sandbox.get("/posts", params={"account": account})).json() == []


async def _two_failed_jobs(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, prefix: str
) -> tuple[str, str, list[dict[str, str]]]:
    """A channel whose platform refuses the next two posts, and the two dead-lettered jobs."""
    account = f"{prefix}-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await sandbox.post(
        "/faults", json={"account": account, "responses": [{"status": 400}, {"status": 400}]}
    )
    jobs = [await _approved_job(api, tenant, channel) for _ in range(2)]
    for job in jobs:
        await _status_is(api, tenant, job["id"], "failed")
    return account, channel, jobs
