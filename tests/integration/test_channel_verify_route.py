"""POST /v1/channels/{id}/verify served by the real API app (uvicorn, a database of its own,
the session's NATS) with no publisher listening: a 503 problem, nothing changed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from herald.api.auth import digest, generate_key
from herald.api.main import create_app
from herald.api.settings import ApiSettings
from herald.cli.infra.ports import free_port
from herald.common.db.engine import Database
from herald.common.db.models import ApiKey, Channel, Tenant
from herald.common.ids import new_id
from tests.conftest import fresh_database


@pytest.fixture(scope="module")
def own_database(postgres_admin_url: str) -> str:
    return fresh_database(postgres_admin_url, "herald_verify")


@pytest.fixture(scope="module")
async def api(own_database: str, nats_url: str) -> AsyncIterator[tuple[str, str]]:
    """The API on a free port, with its own database: (base URL, database URL)."""
    database_url = own_database
    port = free_port()
    settings = ApiSettings(
        database_url=database_url, nats_url=nats_url, http_port=port, channel_check_timeout_s=2
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the API did not start"
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}", database_url
    server.should_exit = True
    await asyncio.wait_for(task, 15)


async def _admin_and_channel(database_url: str) -> tuple[dict[str, str], uuid.UUID]:
    key = generate_key()
    db = Database(database_url, pool_size=1)
    async with db.transaction() as session:
        tenant = Tenant(id=new_id(), name="verify")
        session.add(tenant)
        await session.flush()
        session.add(
            ApiKey(
                id=new_id(),
                tenant_id=tenant.id,
                name="admin",
                role="admin",
                prefix=key[:8],
                key_hash=digest(key),
            )
        )
        channel = Channel(
            id=new_id(), tenant_id=tenant.id, platform="sandbox", name="c", config={"account": "a"}
        )
        session.add(channel)
    await db.dispose()
    return {"Authorization": f"Bearer {key}"}, channel.id


async def test_no_publisher_answering_is_a_503_problem(api: tuple[str, str]) -> None:
    base_url, database_url = api
    auth, channel_id = await _admin_and_channel(database_url)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post(f"/v1/channels/{channel_id}/verify", headers=auth)
        missing = await client.post(f"/v1/channels/{uuid.uuid4()}/verify", headers=auth)
        shown = await client.get(f"/v1/channels/{channel_id}", headers=auth)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "publisher_unavailable"
    assert missing.status_code == 404  # unknown channels are refused before asking
    assert shown.json()["auth_state"] == "ok"
