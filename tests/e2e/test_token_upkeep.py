"""The publishers' token upkeep through the real processes (two publishers, both running it):
an idle X channel near expiry is refreshed once, and a revoked grant is found before the slot
of a scheduled post, which waits for its slot again once the channel is reconnected."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from herald.common.db.engine import Database
from herald.common.db.models import Channel
from tests.e2e.conftest import Tenant, eventually, remember_secrets
from tests.fakes.x_api import XFake


def _soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _x_channel(api: httpx.AsyncClient, tenant: Tenant, credentials: dict[str, str]) -> str:
    remember_secrets(credentials)
    response = await api.post(
        "/v1/channels",
        headers=tenant.auth,
        json={"platform": "x", "name": "x", "config": {}, "credentials": credentials},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _channel_row(db: Database, channel_id: str) -> Channel:
    async with db.transaction() as session:
        return await session.get_one(Channel, uuid.UUID(channel_id))


async def test_an_idle_channel_is_refreshed_once_by_two_publishers(
    api: httpx.AsyncClient, tenant: Tenant, x_api: XFake, e2e_db: Database
) -> None:
    """X spends a refresh token with its first use: had both publishers refreshed, the second
    would have been refused and the channel marked ``reauth_required``."""
    refresh_token = f"x-upkeep-{uuid.uuid4().hex[:8]}"
    x_api.refresh_tokens.add(refresh_token)
    channel = await _x_channel(
        api,
        tenant,
        {"access_token": x_api.mint(), "refresh_token": refresh_token, "expires_at": _soon(60)},
    )

    async def refreshed() -> bool:
        return refresh_token not in x_api.refresh_tokens  # spent by a refresh

    await eventually(refreshed, timeout=15)
    await asyncio.sleep(2)  # a second refresh racing the first would have been refused by now
    row = await _channel_row(e2e_db, channel)
    assert row.auth_state == "ok"
    assert row.token_expires_at is not None
    assert row.token_expires_at > datetime.now(UTC) + timedelta(hours=1)  # X's two hours
    shown = (await api.get(f"/v1/channels/{channel}", headers=tenant.auth)).json()
    assert shown["auth_state"] == "ok"


async def test_a_revoked_grant_is_found_before_the_slot_and_the_post_waits_for_it(
    api: httpx.AsyncClient, tenant: Tenant, x_api: XFake, e2e_db: Database
) -> None:
    channel = await _x_channel(
        api,
        tenant,
        {
            "access_token": x_api.mint(),
            "refresh_token": f"x-revoked-{uuid.uuid4().hex[:8]}",  # X no longer knows it
            "expires_at": _soon(900),  # outlives the idle margin, not the slot in 10 minutes
        },
    )
    slot = datetime.now(UTC) + timedelta(minutes=10)
    job = await _scheduled_post(api, tenant, channel, slot)
    parked: dict[str, Any] = {}

    async def refused() -> bool:
        parked.update((await api.get(f"/v1/jobs/{job}", headers=tenant.auth)).json())
        return bool(parked["status"] == "waiting_auth")

    await eventually(refused, timeout=15)
    shown = (await api.get(f"/v1/channels/{channel}", headers=tenant.auth)).json()
    assert shown["auth_state"] == "reauth_required"
    assert parked["attempts"] == []  # found ahead of the slot: nothing was tried

    async def alerted() -> bool:
        page = await api.get("/v1/alerts", params={"channel_id": channel}, headers=tenant.auth)
        return [a["category"] for a in page.json()["items"]] == ["channel_auth"]

    await eventually(alerted, timeout=15)

    good = f"x-good-{uuid.uuid4().hex[:8]}"
    x_api.refresh_tokens.add(good)
    credentials = {"access_token": x_api.mint(), "refresh_token": good, "expires_at": _soon(7000)}
    remember_secrets(credentials)
    fixed = await api.patch(
        f"/v1/channels/{channel}", headers=tenant.auth, json={"credentials": credentials}
    )
    assert fixed.status_code == 200, fixed.text
    row = await _channel_row(e2e_db, channel)  # the new expiry stored beside the new tokens
    assert row.token_expires_at == datetime.fromisoformat(credentials["expires_at"])
    resumed = (await api.get(f"/v1/jobs/{job}", headers=tenant.auth)).json()
    assert resumed["status"] == "scheduled"  # not published ahead of its slot


async def _scheduled_post(
    api: httpx.AsyncClient, tenant: Tenant, channel: str, slot: datetime
) -> str:
    created = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={
            "title": "Opening",
            "body": f"Doors open at 9 ({uuid.uuid4().hex[:6]}).",
            "channel_ids": [channel],
            "scheduled_for": slot.isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    approved = await api.post(f"/v1/assets/{created.json()['id']}/approve", headers=tenant.auth)
    assert approved.status_code == 200, approved.text
    [job] = approved.json()["jobs"]
    assert job["status"] == "scheduled"
    return str(job["id"])
