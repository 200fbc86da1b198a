"""One approved asset travels API → JetStream → publisher → sandbox, with the real processes."""

from __future__ import annotations

import asyncio
import itertools
import signal
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import nats
from sqlalchemy import select

from herald.common.db.engine import Database
from herald.common.db.models import Alert, OutboxMessage, PublishJob, ServiceHeartbeat
from herald.common.domain.job_states import JobStatus
from herald.common.events import Envelope, PublishRequested
from tests.e2e.conftest import System, Tenant, eventually, make_channel


async def _asset(api: httpx.AsyncClient, tenant: Tenant, channels: list[str], n: int) -> str:
    response = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={
            "title": f"Post {n}",
            "body": f"Body {n}",
            "channel_ids": channels,
            "media": [{"url": "https://cdn.example.com/a.png"}],
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _approve(api: httpx.AsyncClient, tenant: Tenant, asset_id: str) -> list[dict[str, str]]:
    response = await api.post(f"/v1/assets/{asset_id}/approve", headers=tenant.auth)
    assert response.status_code == 200, response.text
    jobs: list[dict[str, str]] = response.json()["jobs"]
    return jobs


async def _posts(sandbox: httpx.AsyncClient, account: str) -> list[dict[str, object]]:
    response = await sandbox.get("/posts", params={"account": account})
    posts: list[dict[str, object]] = response.json()
    return posts


async def _job(api: httpx.AsyncClient, tenant: Tenant, job_id: str) -> dict[str, object]:
    response = await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)
    assert response.status_code == 200, response.text
    job: dict[str, object] = response.json()
    return job


async def test_fifty_assets_on_two_channels_make_exactly_one_hundred_posts(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    accounts = [f"lobby-{uuid.uuid4().hex[:6]}", f"window-{uuid.uuid4().hex[:6]}"]
    channels = [await make_channel(api, tenant, account) for account in accounts]
    assets = await asyncio.gather(*(_asset(api, tenant, channels, n) for n in range(50)))
    approved = await asyncio.gather(*(_approve(api, tenant, a) for a in assets))
    job_ids = [job["id"] for jobs in approved for job in jobs]
    assert len(job_ids) == 100 and len(set(job_ids)) == 100

    async def all_posted() -> bool:
        return sum([len(await _posts(sandbox, a)) for a in accounts]) >= 100

    await eventually(all_posted, timeout=90)
    posts = [p for a in accounts for p in await _posts(sandbox, a)]
    assert len(posts) == 100
    assert sorted(str(p["idempotency_key"]) for p in posts) == sorted(job_ids)
    assert all(p["deliveries"] == 1 for p in posts)

    async def all_succeeded() -> bool:
        jobs = await asyncio.gather(*(_job(api, tenant, j) for j in job_ids))
        return all(j["status"] == "succeeded" for j in jobs)

    await eventually(all_succeeded, timeout=30)
    jobs = await asyncio.gather(*(_job(api, tenant, j) for j in job_ids))
    for job in jobs:
        attempts = job["attempts"]
        assert isinstance(attempts, list) and len(attempts) == 1, job
        assert attempts[0]["outcome"] == "succeeded" and attempts[0]["number"] == 1
        assert str(job["external_id"]).startswith("post_")


async def test_transient_errors_are_retried_until_the_post_succeeds(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"flaky-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    script = {"account": account, "responses": [{"status": 503}, {"status": 429, "retry_after": 1}]}
    assert (await sandbox.post("/faults", json=script)).status_code == 200
    asset = await _asset(api, tenant, [channel], 0)
    [job] = await _approve(api, tenant, asset)

    async def done() -> bool:
        return (await _job(api, tenant, job["id"]))["status"] == "succeeded"

    await eventually(done, timeout=30)
    attempts = (await _job(api, tenant, job["id"]))["attempts"]
    assert isinstance(attempts, list)
    assert [(a["outcome"], a["http_status"]) for a in attempts] == [
        ("failed", 503),
        ("failed", 429),
        ("succeeded", None),
    ]
    started = [datetime.fromisoformat(a["started_at"]) for a in attempts]
    assert (started[2] - started[1]).total_seconds() >= 0.95, "Retry-After was honoured"
    assert len(await _posts(sandbox, account)) == 1


async def test_permanent_error_fails_the_job_and_raises_an_alert(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, e2e_db: Database
) -> None:
    account = f"broken-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await sandbox.post("/faults", json={"account": account, "responses": [{"status": 422}]})
    asset = await _asset(api, tenant, [channel], 0)
    [job] = await _approve(api, tenant, asset)

    async def failed() -> bool:
        return (await _job(api, tenant, job["id"]))["status"] == "failed"

    await eventually(failed, timeout=30)
    body = await _job(api, tenant, job["id"])
    assert body["last_error_code"] == "http_422"
    assert isinstance(body["attempts"], list) and len(body["attempts"]) == 1

    async def alerted() -> Alert | None:
        async with e2e_db.transaction() as session:
            return await session.scalar(
                select(Alert).where(Alert.dedup_key == f"publish_failed:{channel}")
            )

    await eventually(alerted, timeout=30)
    alert = await alerted()
    assert alert is not None
    assert (alert.severity, alert.category, alert.occurrences) == ("error", "publish_failed", 1)
    assert str(alert.tenant_id) == tenant.id and alert.details["job_id"] == job["id"]
    assert await _posts(sandbox, account) == []


async def test_a_repeated_request_for_a_finished_job_posts_nothing(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, system: System
) -> None:
    account = f"dup-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    [job] = await _approve(api, tenant, await _asset(api, tenant, [channel], 0))

    async def done() -> bool:
        return (await _job(api, tenant, job["id"]))["status"] == "succeeded"

    await eventually(done, timeout=30)
    before = await _refusals(system, "already_finished")
    command = PublishRequested(job_id=uuid.UUID(job["id"]))
    client = await nats.connect(system.nats_url)
    for _ in range(3):  # new envelope ids: broker de-duplication cannot hide them
        envelope = Envelope.wrap(
            command,
            tenant_id=uuid.UUID(tenant.id),
            subject_id=command.job_id,
            now=datetime.now(UTC),
        )
        await client.jetstream().publish(command.subject_of(), envelope.to_json())
    await client.drain()

    async def all_refused() -> bool:
        return await _refusals(system, "already_finished") >= before + 3

    await eventually(all_refused, timeout=30)
    [post] = await _posts(sandbox, account)
    assert post["deliveries"] == 1
    attempts = (await _job(api, tenant, job["id"]))["attempts"]
    assert isinstance(attempts, list) and len(attempts) == 1


async def test_recovery_publishes_what_a_crashed_process_left_in_the_outbox(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    tenant: Tenant,
    system: System,
    e2e_db: Database,
) -> None:
    """A job committed with its publish request, but the process died before relaying it.

    Every other relay is frozen, so only the recovery service's start-up sweep can send it.
    """
    account = f"orphan-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    asset = await _asset(api, tenant, [channel], 0)
    recovery, others = system.fleet["recovery"], ["api", "publisher", "alerter"]
    recovery.stop()
    for name in others:
        system.fleet[name].signal(signal.SIGSTOP)
    try:
        async with e2e_db.transaction() as session:
            job = PublishJob(
                tenant_id=uuid.UUID(tenant.id),
                asset_id=uuid.UUID(asset),
                channel_id=uuid.UUID(channel),
                platform="sandbox",
                status=JobStatus.QUEUED,
            )
            session.add(job)
            await session.flush()
            command = PublishRequested(job_id=job.id)
            envelope = Envelope.wrap(
                command, tenant_id=job.tenant_id, subject_id=job.id, now=datetime.now(UTC)
            )
            session.add(
                OutboxMessage(
                    id=envelope.id,
                    subject=command.subject,
                    payload=envelope.to_json(),
                    headers={"Nats-Msg-Id": str(envelope.id)},
                )
            )
        recovery.start()

        async def relayed() -> bool:
            async with e2e_db.transaction() as session:
                row = await session.get_one(OutboxMessage, envelope.id)
            return row.sent_at is not None

        await eventually(relayed, timeout=60)
    finally:
        for name in others:
            system.fleet[name].signal(signal.SIGCONT)

    async def succeeded() -> bool:
        async with e2e_db.transaction() as session:
            stored = await session.get_one(PublishJob, job.id)
        return stored.status == JobStatus.SUCCEEDED

    await eventually(succeeded, timeout=60)
    assert len(await _posts(sandbox, account)) == 1


async def test_every_service_heartbeats(e2e_db: Database) -> None:
    async def all_beating() -> bool:
        async with e2e_db.transaction() as session:
            services = set((await session.scalars(select(ServiceHeartbeat.service))).all())
        return services >= {"api", "publisher", "alerter", "recovery"}

    await eventually(all_beating, timeout=30)


async def test_every_service_answers_health_readiness_and_metrics(system: System) -> None:
    expected = {
        "api": "herald_http_requests_total",
        "publisher": "herald_publish_attempts_total",
        "alerter": "herald_messages_handled_total",
        "recovery": "herald_outbox_published_total",
    }
    async with httpx.AsyncClient(timeout=10) as client:
        for name, metric in expected.items():
            base = system.fleet[name].spec.base_url
            assert (await client.get(f"{base}/healthz")).json() == {"status": "ok"}
            ready = (await client.get(f"{base}/readyz")).json()
            assert ready["status"] == "ready"
            assert set(ready["checks"]) == {"database", "nats"}
            metrics = (await client.get(f"{base}/metrics")).text
            assert metric in metrics, f"{name} does not expose {metric}"


async def test_platforms_are_listed(api: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await api.get("/v1/platforms", headers=tenant.auth)
    assert response.status_code == 200
    listed = {p["name"]: p for p in response.json()}
    assert set(listed) == {
        "sandbox",
        "mastodon",
        "google_business",
        "x",
        "linkedin",
        "webhook",
        "yodeck",
    }
    assert listed["sandbox"]["capabilities"] == {
        "lookup": True,
        "oauth": False,
        "media": True,
        "inventory": False,
    }
    assert listed["google_business"]["capabilities"] == {
        "lookup": True,
        "oauth": True,
        "media": True,
        "inventory": False,
    }
    assert listed["mastodon"]["required_config"] == ["instance_url"]
    assert (listed["yodeck"]["required_config"], listed["yodeck"]["any_config"]) == (
        [],
        ["playlist", "screens"],
    )
    assert listed["yodeck"]["capabilities"]["inventory"] is True


async def test_scheduled_asset_waits_in_the_database_and_publishes_when_due(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"later-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    when = datetime.now(UTC) + timedelta(seconds=3)
    created = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={
            "title": "Later",
            "body": "b",
            "channel_ids": [channel],
            "scheduled_for": when.isoformat(),
        },
    )
    [job] = await _approve(api, tenant, created.json()["id"])
    assert job["status"] == "scheduled"
    await asyncio.sleep(1)
    assert await _posts(sandbox, account) == [], "nothing is published before its time"

    async def posted() -> bool:
        return len(await _posts(sandbox, account)) == 1

    await eventually(posted, timeout=30)
    [post] = await _posts(sandbox, account)
    late = (datetime.fromisoformat(str(post["received_at"])) - when).total_seconds()
    print(f"\nfigure: a post scheduled 3 s ahead reached the sandbox {late:.3f} s after its slot")
    assert 0 <= late <= 1.0, "no earlier than due, and within a second after"
    assert (await _job(api, tenant, job["id"]))["status"] == "succeeded"


async def test_a_queued_job_whose_request_was_lost_is_requested_again(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, e2e_db: Database
) -> None:
    """JetStream lost the message (no outbox row, nothing in the stream): recovery heals it."""
    account = f"lost-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    asset = await _asset(api, tenant, [channel], 0)
    long_ago = datetime.now(UTC) - timedelta(minutes=2)
    async with e2e_db.transaction() as session:
        job = PublishJob(
            tenant_id=uuid.UUID(tenant.id),
            asset_id=uuid.UUID(asset),
            channel_id=uuid.UUID(channel),
            platform="sandbox",
            status=JobStatus.QUEUED,
            queued_at=long_ago,
            requested_at=long_ago,
        )
        session.add(job)

    async def posted() -> bool:
        return len(await _posts(sandbox, account)) == 1

    await eventually(posted, timeout=30)
    await eventually(lambda: _status(e2e_db, job.id), timeout=30)


async def _status(db: Database, job_id: uuid.UUID) -> bool:
    async with db.transaction() as session:
        stored = await session.get_one(PublishJob, job_id)
    return stored.status == JobStatus.SUCCEEDED


async def test_a_channel_rate_limit_spaces_posts_without_using_attempts(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"limited-{uuid.uuid4().hex[:6]}"
    response = await api.post(
        "/v1/channels",
        headers=tenant.auth,
        json={
            "platform": "sandbox",
            "name": account,
            "credentials": {"token": "t"},
            "config": {
                "account": account,
                "rate_limit": {"per_period": 2, "period_s": 1, "burst": 1},
            },
        },
    )
    assert response.status_code == 201, response.text
    channel = response.json()["id"]
    assets = [await _asset(api, tenant, [channel], n) for n in range(4)]
    jobs = [
        job for a in await asyncio.gather(*(_approve(api, tenant, a) for a in assets)) for job in a
    ]

    async def all_posted() -> bool:
        return len(await _posts(sandbox, account)) == 4

    await eventually(all_posted, timeout=30)
    times = sorted(
        datetime.fromisoformat(str(p["received_at"])) for p in await _posts(sandbox, account)
    )
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.45, f"2 per second at most: gaps {gaps}"
    for job in jobs:
        body = await _job(api, tenant, job["id"])
        assert isinstance(body["attempts"], list)
        assert len(body["attempts"]) == 1, "waiting for a token is not an attempt"


async def _refusals(system: System, reason: str) -> float:
    """The publishers' count of requests that found no claimable job, for ``reason``."""
    prefix = f'herald_claims_refused_total{{reason="{reason}"}} '
    total = 0.0
    async with httpx.AsyncClient() as client:
        for name in ("publisher", "publisher-2"):
            text = (await client.get(f"{system.fleet[name].spec.base_url}/metrics")).text
            total += sum(
                float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)
            )
    return total
