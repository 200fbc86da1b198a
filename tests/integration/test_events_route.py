"""GET /v1/events served by the real API app (uvicorn, a database of its own, the session's
NATS): idle streams get keep-alive comments, and a process serves at most its limit of streams,
answering the next with a 503 problem and Retry-After until one closes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from herald.api.auth import digest, generate_key
from herald.api.main import create_app
from herald.api.settings import ApiSettings
from herald.cli.infra.ports import free_port
from herald.common.db.engine import Database
from herald.common.db.models import ApiKey, Tenant
from herald.common.ids import new_id
from tests.conftest import fresh_database


@dataclass(frozen=True)
class Served:
    base_url: str
    database_url: str


@pytest.fixture(scope="module")
def own_database(postgres_admin_url: str) -> str:
    """Its relay must not publish what other tests leave unsent in theirs."""
    return fresh_database(postgres_admin_url, "herald_sse")


@pytest.fixture(scope="module")
async def served(own_database: str, nats_url: str) -> AsyncIterator[Served]:
    """The API on a free port, allowed one open stream at a time."""
    port = free_port()
    settings = ApiSettings(
        database_url=own_database,
        nats_url=nats_url,
        http_port=port,
        sse_max_streams=1,
        sse_keepalive_s=0.2,
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
    yield Served(f"http://127.0.0.1:{port}", settings.database_url)
    server.should_exit = True
    await asyncio.wait_for(task, 15)


async def _key(database_url: str) -> dict[str, str]:
    key = generate_key()
    db = Database(database_url, pool_size=1)
    async with db.transaction() as session:
        tenant = Tenant(id=new_id(), name="sse")
        session.add(tenant)
        await session.flush()
        session.add(
            ApiKey(
                id=uuid.uuid4(),
                tenant_id=tenant.id,
                name="viewer",
                role="viewer",
                prefix=key[:8],
                key_hash=digest(key),
            )
        )
    await db.dispose()
    return {"Authorization": f"Bearer {key}"}


async def _status(client: httpx.AsyncClient, auth: dict[str, str]) -> httpx.Response:
    """The answer to a new stream, without reading a body that might never end."""
    async with client.stream("GET", "/v1/events", headers=auth) as response:
        if response.status_code != 200:
            await response.aread()
        return response


async def test_a_viewer_streams_with_keep_alives_and_the_limit_is_held(served: Served) -> None:
    auth = await _key(served.database_url)
    async with httpx.AsyncClient(base_url=served.base_url, timeout=httpx.Timeout(10)) as client:
        async with client.stream("GET", "/v1/events", headers=auth) as first:
            assert first.status_code == 200
            lines = first.aiter_lines()  # held open (not broken out of) while the next asks
            head = [await anext(lines) for _ in range(5)]
            ready_id = head[0].removeprefix("id: ")
            assert head[1:] == [
                "event: ready",
                f'data: {{"last_event_id":{ready_id}}}',
                "",
                ": keep-alive",
            ], "nothing happened: after ready, only keep-alives"

            refused = await asyncio.wait_for(_status(client, auth), 10)
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "too_many_streams"
            assert int(refused.headers["Retry-After"]) > 0
            assert await anext(lines) == "", "the first stream is still served"

        for _ in range(50):  # the slot frees as soon as the server sees the hang-up
            if (await asyncio.wait_for(_status(client, auth), 10)).status_code == 200:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the closed stream's slot was never released")
