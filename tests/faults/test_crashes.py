"""Real processes killed with SIGKILL at the worst moments, or stopped with SIGTERM while work
is pending: nothing lost, nothing doubled, nothing left for another process to redo."""

from __future__ import annotations

import contextlib
import signal
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

from herald.common.db.engine import Database
from herald.common.db.models import OutboxMessage
from tests.e2e.conftest import OPERATOR_TOKEN, System, Tenant, eventually
from tests.faults.conftest import StartFleet


def _armed(point: str, tmp_path: Path) -> dict[str, str]:
    return {"HERALD_FAULT": f"{point}:kill", "HERALD_FAULT_MARKER": str(tmp_path / "fired")}


async def _setup(system: System) -> tuple[httpx.AsyncClient, Tenant, str, str]:
    api = httpx.AsyncClient(base_url=system.api_url, timeout=10)
    created = (
        await api.post(
            "/v1/tenants",
            json={"name": "faults"},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
    ).json()
    tenant = Tenant(created["tenant"]["id"], created["api_key"])
    account = f"crash-{uuid.uuid4().hex[:6]}"
    channel = (
        await api.post(
            "/v1/channels",
            headers=tenant.auth,
            json={
                "platform": "sandbox",
                "name": account,
                "config": {"account": account},
                "credentials": {"token": "t"},
            },
        )
    ).json()["id"]
    asset = (
        await api.post(
            "/v1/assets",
            headers=tenant.auth,
            json={"title": "crash", "body": "b", "channel_ids": [channel]},
        )
    ).json()["id"]
    return api, tenant, account, asset


async def _supervise_until_published(
    system: System, api: httpx.AsyncClient, tenant: Tenant, asset: str, account: str
) -> dict[str, object]:
    async def succeeded() -> bool:
        system.fleet.supervise_once(time.monotonic())  # restart whatever died, like `make run`
        try:
            body = (await api.get(f"/v1/assets/{asset}", headers=tenant.auth)).json()
        except httpx.HTTPError:
            return False
        return bool(body.get("jobs")) and body["jobs"][0]["status"] == "succeeded"

    await eventually(succeeded, timeout=60, interval=0.2)
    job_id = (await api.get(f"/v1/assets/{asset}", headers=tenant.auth)).json()["jobs"][0]["id"]
    job: dict[str, object] = (await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()
    async with httpx.AsyncClient(base_url=system.sandbox_url) as sandbox:
        posts = (await sandbox.get("/posts", params={"account": account})).json()
    assert len(posts) == 1, "exactly one post"
    assert posts[0]["idempotency_key"] == job_id
    job["_post"] = posts[0]
    return job


async def test_publisher_killed_after_the_platform_accepted(
    start_fleet: StartFleet, tmp_path: Path
) -> None:
    """The worst moment: the post exists, nothing is recorded. The next claim asks the platform
    (lookup) and records the post it finds instead of posting again."""
    system = start_fleet({"publisher": _armed("publisher.after_platform_call", tmp_path)})
    api, tenant, account, asset = await _setup(system)
    approved = await api.post(f"/v1/assets/{asset}/approve", headers=tenant.auth)
    assert approved.status_code == 200
    job = await _supervise_until_published(system, api, tenant, asset, account)
    assert (tmp_path / "fired").exists(), "the fault really fired"
    attempts = job["attempts"]
    assert isinstance(attempts, list)
    assert [a["outcome"] for a in attempts] == ["uncertain", "succeeded"]
    post = job["_post"]
    assert isinstance(post, dict)
    assert post["deliveries"] == 1, "reconciled by lookup: the platform was not called again"
    assert job["external_id"] == post["id"]
    await api.aclose()


async def test_api_killed_after_committing_the_approval(
    start_fleet: StartFleet, tmp_path: Path
) -> None:
    """The client never hears back, but the approval committed with its events: another
    process's relay (or the recovery service) publishes them."""
    system = start_fleet({"api": _armed("api.after_commit", tmp_path)})
    api, tenant, account, asset = await _setup(system)
    try:
        await api.post(f"/v1/assets/{asset}/approve", headers=tenant.auth)
        raise AssertionError("the API should have died mid-request")
    except httpx.HTTPError:
        pass
    job = await _supervise_until_published(system, api, tenant, asset, account)
    assert isinstance(job["attempts"], list)
    assert len(job["attempts"]) == 1
    await api.aclose()


async def test_relay_killed_after_publishing_before_marking_sent(
    start_fleet: StartFleet, tmp_path: Path
) -> None:
    """JetStream has the events but the outbox says unsent: they are published again with the
    same message ids, and whatever arrives twice is executed once."""
    system = start_fleet({"api": _armed("relay.after_publish", tmp_path)})
    api, tenant, account, asset = await _setup(system)
    with contextlib.suppress(httpx.HTTPError):  # the API may die before it answers
        await api.post(f"/v1/assets/{asset}/approve", headers=tenant.auth)
    job = await _supervise_until_published(system, api, tenant, asset, account)
    assert (tmp_path / "fired").exists()
    assert isinstance(job["attempts"], list)
    assert len(job["attempts"]) == 1
    post = job["_post"]
    assert isinstance(post, dict)
    assert post["deliveries"] == 1
    await api.aclose()


async def test_a_cancel_pending_when_the_worker_dies_is_never_posted_by_the_next(
    start_fleet: StartFleet,
) -> None:
    """Cancel arrives mid-call, then the worker dies before the (failing) call returns: the
    worker that takes over only asks the platform, finds nothing, and cancels."""
    system = start_fleet({})
    api, tenant, account, asset = await _setup(system)
    async with httpx.AsyncClient(base_url=system.sandbox_url) as sandbox:
        await sandbox.post(
            "/faults", json={"account": account, "responses": [{"status": 503, "delay_ms": 1500}]}
        )
    approved = (await api.post(f"/v1/assets/{asset}/approve", headers=tenant.auth)).json()
    job_id = approved["jobs"][0]["id"]

    async def processing() -> bool:
        body = (await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()
        return bool(body["status"] == "processing")

    await eventually(processing, timeout=30, interval=0.02)
    cancel = await api.post(f"/v1/jobs/{job_id}/cancel", headers=tenant.auth)
    assert cancel.json()["cancel_requested"] is True
    system.fleet["publisher"].signal(signal.SIGKILL)

    async def cancelled() -> bool:
        system.fleet.supervise_once(time.monotonic())
        body = (await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()
        return bool(body["status"] == "cancelled")

    await eventually(cancelled, timeout=60, interval=0.2)
    body = (await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()
    assert [a["error_code"] for a in body["attempts"]] == ["worker_lost", "cancelled"]
    async with httpx.AsyncClient(base_url=system.sandbox_url) as sandbox:
        assert (await sandbox.get("/posts", params={"account": account})).json() == []
    await api.aclose()


LINGERING = {"HERALD_OUTBOX_MARK_LINGER_S": "60", "HERALD_OUTBOX_GRACE_S": "50"}
"""Sent marks wait a minute, and no background relay takes a row over meanwhile."""


async def _unsent(database_url: str) -> int:
    db = Database(database_url)
    try:
        async with db.autocommit() as connection:
            found = await connection.scalar(
                select(func.count()).where(OutboxMessage.sent_at.is_(None))
            )
    finally:
        await db.dispose()
    return int(found or 0)


async def test_services_stopped_while_their_sent_marks_linger_write_them_first(
    start_fleet: StartFleet,
) -> None:
    """SIGTERM to the API (its lifespan) and to the publisher (``serve_worker``) while the
    marks of what they published still linger: each writes them before it exits, so no row
    is left for a background relay to publish again."""
    system = start_fleet({name: LINGERING for name in ("api", "publisher", "alerter", "recovery")})
    api, tenant, account, asset = await _setup(system)
    approved = await api.post(f"/v1/assets/{asset}/approve", headers=tenant.auth)
    assert approved.status_code == 200
    job = await _supervise_until_published(system, api, tenant, asset, account)
    assert job["status"] == "succeeded"
    assert await _unsent(system.database_url) > 0, "published, their marks still lingering"
    for name in ("api", "publisher"):
        service = system.fleet[name]
        service.stop()
        assert service.proc is not None and service.proc.returncode != -signal.SIGKILL, (
            f"{name} stopped within its grace, not killed"
        )
    assert await _unsent(system.database_url) == 0
    await api.aclose()
