"""The job lifecycle through the HTTP API, two publishers, and the sandbox misbehaving."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from datetime import datetime

import httpx
from sqlalchemy import select

from herald.common.db.engine import Database
from herald.common.db.models import Alert
from tests.e2e.conftest import Tenant, eventually, make_channel


async def _job_for(
    api: httpx.AsyncClient, tenant: Tenant, channel: str, n: int = 0
) -> dict[str, str]:
    asset = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": f"t{n}", "body": "b", "channel_ids": [channel]},
    )
    approved = await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)
    assert approved.status_code == 200, approved.text
    job: dict[str, str] = approved.json()["jobs"][0]
    return job


async def _finished(api: httpx.AsyncClient, tenant: Tenant, job_id: str) -> dict[str, object]:
    async def done() -> bool:
        body = (await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()
        return body["status"] in ("succeeded", "failed", "cancelled")

    await eventually(done, timeout=60, interval=0.05)
    body: dict[str, object] = (await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()
    return body


def _starts(job: dict[str, object]) -> list[datetime]:
    attempts = job["attempts"]
    assert isinstance(attempts, list)
    return [datetime.fromisoformat(a["started_at"]) for a in attempts]


async def _script(sandbox: httpx.AsyncClient, account: str, *responses: dict[str, object]) -> None:
    response = await sandbox.post(
        "/faults", json={"account": account, "responses": list(responses)}
    )
    assert response.status_code == 200


async def test_503_503_200_succeeds_on_the_third_attempt_with_backoff(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"flaky-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await _script(sandbox, account, {"status": 503}, {"status": 503})
    job = await _finished(api, tenant, (await _job_for(api, tenant, channel))["id"])
    assert job["status"] == "succeeded"
    attempts = job["attempts"]
    assert isinstance(attempts, list)
    assert [a["http_status"] for a in attempts] == [503, 503, None]
    starts = _starts(job)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    print(f"\nfigure: gaps between attempts {[round(g, 3) for g in gaps]} s (ceilings 1 s, 2 s)")
    assert gaps[0] <= 1.0 + 0.5, "first backoff is at most 1 s (full jitter) plus handling"
    assert gaps[1] <= 2.0 + 0.5, "second backoff is at most 2 s"
    assert len((await sandbox.get("/posts", params={"account": account})).json()) == 1


async def test_400_fails_after_one_attempt_with_exactly_one_publish_failed(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, e2e_db: Database
) -> None:
    account = f"refused-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await _script(sandbox, account, {"status": 400})
    job = await _finished(api, tenant, (await _job_for(api, tenant, channel))["id"])
    assert job["status"] == "failed"
    assert isinstance(job["attempts"], list)
    assert len(job["attempts"]) == 1

    async def alert() -> Alert | None:
        async with e2e_db.transaction() as session:
            return await session.scalar(
                select(Alert).where(Alert.dedup_key == f"publish_failed:{channel}")
            )

    await eventually(alert, timeout=30)
    await asyncio.sleep(1.5)  # time for a second publish.failed, were there one
    found = await alert()
    assert found is not None
    assert found.occurrences == 1, "the alerter received exactly one publish.failed"
    assert found.details["final"] is True


async def test_429_with_retry_after_2_waits_two_seconds(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"slowdown-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await _script(sandbox, account, {"status": 429, "retry_after": 2})
    job = await _finished(api, tenant, (await _job_for(api, tenant, channel))["id"])
    assert job["status"] == "succeeded"
    [post] = (await sandbox.get("/posts", params={"account": account})).json()
    attempts = job["attempts"]
    assert isinstance(attempts, list)
    refused_at = datetime.fromisoformat(attempts[0]["finished_at"])  # when the 429 came back
    waited = (datetime.fromisoformat(post["received_at"]) - refused_at).total_seconds()
    print(f"\nfigure: the retry reached the sandbox {waited:.3f} s after the 429")
    assert waited >= 2.0


async def test_a_dropped_answer_is_reconciled_into_one_post(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    """The platform accepted the post but the answer never came: the retry finds it."""
    account = f"dropped-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await _script(sandbox, account, {"status": 201, "drop": True})
    job = await _finished(api, tenant, (await _job_for(api, tenant, channel))["id"])
    assert job["status"] == "succeeded"
    attempts = job["attempts"]
    assert isinstance(attempts, list)
    assert [a["error_code"] for a in attempts] == ["timeout", None]
    [post] = (await sandbox.get("/posts", params={"account": account})).json()
    assert post["id"] == job["external_id"]
    assert post["deliveries"] == 1, "the retry asked the platform (lookup) instead of posting"


async def test_two_publishers_never_exceed_a_channels_rate_limit(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = f"five-a-second-{uuid.uuid4().hex[:6]}"
    created = await api.post(
        "/v1/channels",
        headers=tenant.auth,
        json={
            "platform": "sandbox",
            "name": account,
            "credentials": {"token": "t"},
            "config": {
                "account": account,
                "rate_limit": {"per_period": 5, "period_s": 1, "burst": 1},
            },
        },
    )
    channel = created.json()["id"]
    jobs = await asyncio.gather(*(_job_for(api, tenant, channel, n) for n in range(50)))
    finished = await asyncio.gather(*(_finished(api, tenant, j["id"]) for j in jobs))
    assert all(j["status"] == "succeeded" for j in finished)
    posts = (await sandbox.get("/posts", params={"account": account})).json()
    received = sorted(datetime.fromisoformat(p["received_at"]) for p in posts)
    busiest = _busiest_second(received)
    workers = {a["worker"] for job in finished for a in job["attempts"]}  # type: ignore[attr-defined]
    span = (received[-1] - received[0]).total_seconds()
    print(
        f"\nfigure: 50 jobs, {len(workers)} publishers: at most {busiest} posts in any "
        f"one-second window at the sandbox; 50 posts over {span:.2f} s"
    )
    assert len(posts) == 50
    assert busiest <= 5
    assert len(workers) == 2, "both publishers took part"


def _busiest_second(times: list[datetime]) -> int:
    """The most events in any half-open one-second window."""
    return max(
        sum(1 for t in times[i:] if (t - start).total_seconds() < 1.0)
        for i, start in enumerate(times)
    )


async def test_two_publishers_post_five_hundred_jobs_exactly_once(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    accounts = [f"bulk-{n}-{uuid.uuid4().hex[:6]}" for n in range(5)]
    channels = [await make_channel(api, tenant, a) for a in accounts]
    limit = asyncio.Semaphore(20)
    started = time.monotonic()

    async def approve(n: int) -> list[dict[str, str]]:
        async with limit:
            asset = await api.post(
                "/v1/assets",
                headers=tenant.auth,
                json={"title": f"bulk {n}", "body": "b", "channel_ids": channels},
            )
            approved = await api.post(
                f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth
            )
            jobs: list[dict[str, str]] = approved.json()["jobs"]
            return jobs

    job_ids = [
        j["id"] for jobs in await asyncio.gather(*(approve(n) for n in range(100))) for j in jobs
    ]
    assert len(set(job_ids)) == 500

    async def all_posted() -> bool:
        counts = [
            len((await sandbox.get("/posts", params={"account": a})).json()) for a in accounts
        ]
        return sum(counts) >= 500

    await eventually(all_posted, timeout=120, interval=0.25)
    elapsed = time.monotonic() - started
    posts = [
        p for a in accounts for p in (await sandbox.get("/posts", params={"account": a})).json()
    ]
    keys = [p["idempotency_key"] for p in posts]
    assert len(posts) == 500
    assert sorted(keys) == sorted(job_ids), "one post per job"
    assert all(p["deliveries"] == 1 for p in posts), "no job reached the platform twice"
    print(f"\nfigure: 500 jobs through 2 publishers in {elapsed:.1f} s (approval included)")
