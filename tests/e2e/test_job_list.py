"""GET /v1/jobs: newest first, keyset pages that miss and repeat nothing, every filter, and
nothing of another tenant's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from herald.common.db.engine import Database
from herald.common.db.models import Asset, Channel, PublishJob
from tests.e2e.conftest import OPERATOR_TOKEN, Tenant

START = datetime(2026, 3, 1, tzinfo=UTC)
STATUSES = ("succeeded", "failed", "cancelled", "queued")
PLATFORMS = ("sandbox", "mastodon", "x")


async def _jobs(db: Database, tenant: Tenant, assets: int) -> list[PublishJob]:
    """``assets`` assets with a job on each of 3 channels; an asset's jobs share their
    ``created_at``, as an approval's do, so pages must break ties by id."""
    tenant_id = uuid.UUID(tenant.id)
    async with db.transaction() as session:
        channels = [Channel(tenant_id=tenant_id, platform=p, name=p) for p in PLATFORMS]
        session.add_all(channels)
        await session.flush()
        jobs = []
        for n in range(assets):
            at = START + timedelta(minutes=n // 2)  # two assets per minute: more ties
            asset = Asset(
                tenant_id=tenant_id,
                title=f"a{n}",
                body="b",
                channel_ids=[c.id for c in channels],
                status="approved",
                created_at=at,
            )
            session.add(asset)
            await session.flush()
            for k, channel in enumerate(channels):
                jobs.append(
                    PublishJob(
                        tenant_id=tenant_id,
                        asset_id=asset.id,
                        channel_id=channel.id,
                        platform=channel.platform,
                        status=STATUSES[(n + k) % len(STATUSES)],
                        created_at=at,
                    )
                )
        session.add_all(jobs)
    return sorted(jobs, key=lambda j: (j.created_at, j.id), reverse=True)


async def _all_pages(
    api: httpx.AsyncClient, tenant: Tenant, limit: int, **where: str
) -> tuple[list[str], list[int]]:
    """Every id, following next_cursor, and the size of each page."""
    ids: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": str(limit), **where, **({"cursor": cursor} if cursor else {})}
        response = await api.get("/v1/jobs", headers=tenant.auth, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        sizes.append(len(body["items"]))
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, sizes


async def test_jobs_are_listed_newest_first_in_pages_and_filtered(
    api: httpx.AsyncClient, e2e_db: Database, tenant: Tenant
) -> None:
    jobs = await _jobs(e2e_db, tenant, 40)  # 120 jobs
    ids, sizes = await _all_pages(api, tenant, 50)
    assert ids == [str(j.id) for j in jobs]
    assert sizes == [50, 50, 20]

    first = (await api.get("/v1/jobs", headers=tenant.auth, params={"limit": 3})).json()
    assert first["items"][0]["status"] == jobs[0].status
    assert set(first["items"][0]) >= {"id", "asset_id", "channel_id", "platform", "created_at"}
    assert "attempts" not in first["items"][0]

    def expected(**where: object) -> list[str]:
        return [str(j.id) for j in jobs if all(getattr(j, name) == v for name, v in where.items())]

    assert (await _all_pages(api, tenant, 7, status="failed"))[0] == expected(status="failed")
    both = {"status": "succeeded", "platform": "mastodon"}
    assert (await _all_pages(api, tenant, 4, **both))[0] == expected(**both)
    channel = str(jobs[5].channel_id)
    assert (await _all_pages(api, tenant, 9, channel_id=channel))[0] == expected(
        channel_id=jobs[5].channel_id
    )
    asset = str(jobs[5].asset_id)
    assert (await _all_pages(api, tenant, 2, asset_id=asset))[0] == expected(
        asset_id=jobs[5].asset_id
    )
    low, high = START + timedelta(minutes=3), START + timedelta(minutes=7)
    window = {"created_after": low.isoformat(), "created_before": high.isoformat()}
    assert (await _all_pages(api, tenant, 5, **window))[0] == [
        str(j.id) for j in jobs if low <= j.created_at < high
    ]


async def test_another_tenant_sees_none_of_the_jobs_nor_pages_past_them(
    api: httpx.AsyncClient, e2e_db: Database, tenant: Tenant
) -> None:
    jobs = await _jobs(e2e_db, tenant, 2)
    created = await api.post(
        "/v1/tenants", json={"name": "other"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    other = Tenant(created.json()["tenant"]["id"], created.json()["api_key"])
    assert (await api.get("/v1/jobs", headers=other.auth)).json() == {
        "items": [],
        "next_cursor": None,
    }
    past = await api.get("/v1/jobs", headers=other.auth, params={"cursor": str(jobs[0].id)})
    assert past.json()["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "lost"},
        {"limit": "0"},
        {"limit": "101"},
        {"platform": "Not A Platform"},
        {"created_after": "2026-03-01T00:00:00"},  # no time zone
        {"created_before": "9999-12-31T23:59:59-14:00"},  # beyond what UTC can hold
        {"cursor": "not-a-uuid"},
    ],
)
async def test_bad_list_parameters_are_422(
    api: httpx.AsyncClient, tenant: Tenant, params: dict[str, str]
) -> None:
    response = await api.get("/v1/jobs", headers=tenant.auth, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
