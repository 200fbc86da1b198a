"""GET /v1/system/health and GET /v1/queue/stats against the running fleet.

Heartbeats are made stale without racing the services (which beat every few seconds): the
rows are backdated, then the table is locked against writes (EXCLUSIVE still lets the API
read) while the health is read, after checking under the lock that no beat slipped in.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from herald.api.auth import digest, generate_key
from herald.common.db.engine import Database
from herald.common.db.models import ApiKey, Asset, Channel, PublishJob
from tests.e2e.conftest import OPERATOR_TOKEN, Tenant, eventually, make_channel

CHECKS = ["postgresql", "nats", "api", "publisher", "alerter", "recovery", "channels"]


async def _viewer(db: Database, tenant: Tenant) -> dict[str, str]:
    key = generate_key()
    async with db.transaction() as session:
        session.add(
            ApiKey(
                tenant_id=uuid.UUID(tenant.id),
                name="viewer",
                role="viewer",
                prefix=key[:8],
                key_hash=digest(key),
            )
        )
    return {"Authorization": f"Bearer {key}"}


async def _other_tenant(api: httpx.AsyncClient) -> Tenant:
    created = await api.post(
        "/v1/tenants", json={"name": "other"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    return Tenant(created.json()["tenant"]["id"], created.json()["api_key"])


def _by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in body["checks"]}


async def _healthy(api: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    """The report once the whole fleet reads healthy (a restart by another test may lag)."""
    found: dict[str, Any] = {}

    async def healthy() -> bool:
        response = await api.get("/v1/system/health", headers=auth)
        found.clear()
        found.update(response.json())
        return response.status_code == 200 and found["status"] == "healthy"

    await eventually(healthy, timeout=30, interval=0.5)
    return found


async def test_the_whole_fleet_up_is_healthy_for_any_key(
    api: httpx.AsyncClient, e2e_db: Database, tenant: Tenant
) -> None:
    await make_channel(api, tenant, f"health-{uuid.uuid4().hex[:6]}")
    body = await _healthy(api, await _viewer(e2e_db, tenant))

    assert [check["name"] for check in body["checks"]] == CHECKS
    assert {check["status"] for check in body["checks"]} == {"healthy"}
    assert all(check["response_time_ms"] >= 0 for check in body["checks"])
    checks = _by_name(body)
    assert checks["postgresql"]["kind"] == checks["nats"]["kind"] == "dependency"
    for service in ("api", "publisher", "alerter", "recovery"):
        assert checks[service]["kind"] == "service"
        assert checks[service]["instances"] >= 1
        assert checks[service]["last_seen_s_ago"] <= checks[service]["stale_after_s"]
    assert (checks["channels"]["channels"], "channels_not_ok" in checks["channels"]) == (1, False)
    assert "detail" not in checks["postgresql"]  # nothing to say: omitted

    metrics = (await api.get("/metrics")).text
    for probe in ("postgresql", "nats", "heartbeats", "channels"):
        assert f'herald_health_check_duration_seconds_count{{check="{probe}"}}' in metrics

    anonymous = await api.get("/v1/system/health")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
    assert anonymous.headers["content-type"] == "application/problem+json"


async def test_a_channel_needing_reauthorization_degrades_the_tenant_with_200(
    api: httpx.AsyncClient, e2e_db: Database, tenant: Tenant
) -> None:
    token = f"tok-{uuid.uuid4().hex}"
    broken = await make_channel(api, tenant, f"reauth-{uuid.uuid4().hex[:6]}", token=token)
    await make_channel(api, tenant, f"fine-{uuid.uuid4().hex[:6]}")
    await _healthy(api, tenant.auth)
    async with e2e_db.transaction() as session:
        await session.execute(
            text("UPDATE channels SET auth_state = 'reauth_required' WHERE id = :id"),
            {"id": uuid.UUID(broken)},
        )

    response = await api.get("/v1/system/health", headers=tenant.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "degraded"
    channels = _by_name(body)["channels"]
    assert channels["status"] == "degraded"
    assert (channels["channels"], channels["channels_not_ok"]) == (2, {"reauth_required": 1})
    assert channels["detail"] == "1 of 2 channels need attention (reauth_required: 1)"
    assert token not in response.text and broken not in response.text
    assert {c["status"] for c in body["checks"] if c["name"] != "channels"} == {"healthy"}

    other = await _other_tenant(api)  # another tenant's channels are not this one's problem
    assert _by_name(await _healthy(api, other.auth))["channels"]["channels"] == 0


@asynccontextmanager
async def _stale_and_locked(
    db: Database, service: str, stale_after_s: float
) -> AsyncIterator[None]:
    """While inside, every heartbeat of ``service`` is older than ``stale_after_s`` and no
    service can write one: backdated, then locked against writes (EXCLUSIVE lets reads by),
    checked under the lock in case a beat slipped in between (then tried again)."""
    for _ in range(5):
        async with db.transaction() as session:
            await session.execute(
                text(
                    "UPDATE service_heartbeats SET last_seen_at = clock_timestamp() - "
                    "make_interval(secs => :s) WHERE service = :service"
                ),
                {"s": stale_after_s + 1, "service": service},
            )
        async with db.transaction() as session:
            await session.execute(text("LOCK TABLE service_heartbeats IN EXCLUSIVE MODE"))
            freshest = await session.scalar(
                text(
                    "SELECT extract(epoch FROM clock_timestamp() - max(last_seen_at)) "
                    "FROM service_heartbeats WHERE service = :service"
                ),
                {"service": service},
            )
            if freshest is not None and float(freshest) > stale_after_s:
                yield
                return
    raise AssertionError("a heartbeat slipped in before the lock five times")


async def test_a_publisher_without_a_fresh_heartbeat_is_unhealthy_503(
    api: httpx.AsyncClient, e2e_db: Database, tenant: Tenant
) -> None:
    stale_after_s = _by_name(await _healthy(api, tenant.auth))["publisher"]["stale_after_s"]
    async with _stale_and_locked(e2e_db, "publisher", stale_after_s):
        response = await api.get("/v1/system/health", headers=tenant.auth)

    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unhealthy"
    publisher = _by_name(body)["publisher"]
    assert (publisher["status"], publisher["instances"]) == ("unhealthy", 0)
    assert publisher["stale_instances"] >= 1
    assert publisher["last_seen_s_ago"] > stale_after_s
    assert publisher["detail"].startswith("no heartbeat for")
    for name in ("postgresql", "nats", "api", "alerter", "recovery", "channels"):
        assert _by_name(body)[name]["status"] == "healthy", body
    await _healthy(api, tenant.auth)  # and back once the publishers beat again


async def test_a_check_that_hangs_fails_at_its_deadline_instead_of_hanging_the_endpoint(
    api: httpx.AsyncClient, e2e_db: Database, tenant: Tenant
) -> None:
    await _healthy(api, tenant.auth)
    async with e2e_db.transaction() as session:  # even reads of the heartbeats now wait
        await session.execute(text("LOCK TABLE service_heartbeats IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        response = await api.get("/v1/system/health", headers=tenant.auth)
        elapsed = time.monotonic() - started

    assert response.status_code == 503, response.text
    checks = _by_name(response.json())
    for service in ("api", "publisher", "alerter", "recovery"):
        assert checks[service]["detail"].startswith("heartbeats unreadable: timed out after")
        assert checks[service]["response_time_ms"] >= 1000 * 1.9  # the 2 s default
    assert elapsed < checks["publisher"]["response_time_ms"] / 1000 + 3
    assert (checks["publisher"]["status"], checks["recovery"]["status"]) == (
        "unhealthy",
        "degraded",
    )
    assert {checks[name]["status"] for name in ("postgresql", "nats", "channels")} == {"healthy"}
    await _healthy(api, tenant.auth)  # the timed-out probe left nothing broken behind


# Queue stats


async def _jobs(db: Database, tenant: Tenant, now: datetime) -> list[PublishJob]:
    """Live jobs the services leave alone for a while (a fresh request, a future slot or
    retry), and finished ones at known minutes."""
    tenant_id = uuid.UUID(tenant.id)
    minute = timedelta(minutes=1)
    specs: list[dict[str, Any]] = [
        *(
            {"status": "scheduled", "priority": p, "scheduled_for": now + timedelta(days=1)}
            for p in ("normal", "normal", "low")
        ),
        {"status": "queued", "priority": "high", "requested_at": now - timedelta(seconds=10)},
        {"status": "queued", "priority": "high", "requested_at": now - timedelta(seconds=2)},
        {"status": "retrying", "priority": "normal", "next_attempt_at": now + timedelta(hours=1)},
        {"status": "waiting_auth", "priority": "high"},
        {"status": "succeeded", "priority": "high", "finished_at": now - minute},
        {"status": "succeeded", "priority": "normal", "finished_at": now - minute},
        {"status": "succeeded", "priority": "normal", "finished_at": now - 2 * minute},
        {"status": "succeeded", "priority": "normal", "finished_at": now},
        {"status": "failed", "priority": "low", "finished_at": now - 3 * minute},
        {"status": "failed", "priority": "low", "finished_at": now - 3 * minute},
        {"status": "cancelled", "priority": "normal", "finished_at": now - minute},
        {"status": "succeeded", "priority": "normal", "finished_at": now - 30 * minute},
    ]
    async with db.transaction() as session:
        channel = Channel(tenant_id=tenant_id, platform="sandbox", name="stats")
        session.add(channel)
        await session.flush()
        jobs = []
        for spec in specs:
            asset = Asset(
                tenant_id=tenant_id,
                title="t",
                body="b",
                channel_ids=[channel.id],
                status="approved",
            )
            session.add(asset)
            await session.flush()
            jobs.append(
                PublishJob(
                    tenant_id=tenant_id,
                    asset_id=asset.id,
                    channel_id=channel.id,
                    platform="sandbox",
                    **spec,
                )
            )
        session.add_all(jobs)
    return jobs


def _minute(at: datetime) -> str:
    return at.replace(second=0, microsecond=0).isoformat().replace("+00:00", "Z")


def _iso_minute(value: str) -> str:
    return _minute(datetime.fromisoformat(value.replace("Z", "+00:00")))


async def test_queue_stats_count_the_tenants_jobs_now_and_over_the_window(
    api: httpx.AsyncClient, e2e_db: Database, tenant: Tenant
) -> None:
    now = datetime.now(UTC)
    jobs = await _jobs(e2e_db, tenant, now)
    response = await api.get("/v1/queue/stats", headers=await _viewer(e2e_db, tenant))
    asked = datetime.now(UTC)
    assert response.status_code == 200, response.text
    body = response.json()

    assert body["window_minutes"] == 15
    assert body["live"] == {
        "total": 7,
        "by_status": {
            "scheduled": 3,
            "queued": 2,
            "processing": 0,
            "retrying": 1,
            "waiting_auth": 1,
            "uncertain": 0,
        },
        "by_priority": {"high": 3, "normal": 3, "low": 1},
    }
    assert 10 <= body["oldest_queued_age_s"] <= 10 + (asked - now).total_seconds() + 1
    assert body["finished"] == {
        "total": 6,
        "by_status": {"succeeded": 4, "failed": 2},
        "by_priority": {"high": 1, "normal": 3, "low": 2},
    }
    assert body["finished_per_minute"] == round(6 / 15, 2)

    buckets = body["throughput"]
    assert len(buckets) == 15
    assert _iso_minute(buckets[0]["minute"]) == _iso_minute(body["since"])
    assert _iso_minute(buckets[-1]["minute"]) == _minute(datetime.fromisoformat(body["as_of"]))
    expected: dict[str, list[int]] = {}
    for job in jobs:
        at = job.finished_at
        if at is not None and at >= now - timedelta(minutes=5) and job.status != "cancelled":
            counts = expected.setdefault(_minute(at), [0, 0])
            counts[0 if job.status == "succeeded" else 1] += 1
    seen = {
        _iso_minute(b["minute"]): [b["succeeded"], b["failed"]]
        for b in buckets
        if b["succeeded"] or b["failed"]
    }
    assert seen == expected

    hour = (await api.get("/v1/queue/stats", headers=tenant.auth, params={"minutes": 60})).json()
    assert len(hour["throughput"]) == 60
    assert hour["finished"]["by_status"] == {"succeeded": 5, "failed": 2}  # the one 30 min ago
    assert hour["live"] == body["live"]


async def test_another_tenant_sees_none_of_the_numbers(
    api: httpx.AsyncClient, e2e_db: Database, tenant: Tenant
) -> None:
    await _jobs(e2e_db, tenant, datetime.now(UTC))
    other = await _other_tenant(api)
    body = (await api.get("/v1/queue/stats", headers=other.auth)).json()
    assert body["live"]["total"] == 0 and set(body["live"]["by_status"].values()) == {0}
    assert body["finished"]["total"] == 0
    assert body["oldest_queued_age_s"] == 0
    assert {(b["succeeded"], b["failed"]) for b in body["throughput"]} == {(0, 0)}


@pytest.mark.parametrize("minutes", ["0", "61", "-1", "1.5", "many"])
async def test_a_bad_window_is_a_422_problem(
    api: httpx.AsyncClient, tenant: Tenant, minutes: str
) -> None:
    response = await api.get("/v1/queue/stats", headers=tenant.auth, params={"minutes": minutes})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"][0]["loc"] == ["query", "minutes"]
