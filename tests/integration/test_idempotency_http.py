"""What the Idempotency-Key middleware does with failures and large responses: the API app in
process (no lifespan: nothing here needs NATS) on the session's real PostgreSQL, with routes of
the test's own behind the real authentication."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import func, select
from structlog.testing import capture_logs

from herald.api.auth import Who, digest, generate_key
from herald.api.main import create_app
from herald.api.settings import ApiSettings
from herald.common.db.engine import Database
from herald.common.db.models import ApiKey, IdempotencyKey, Tenant
from herald.common.ids import new_id

MAX_BYTES = 1024


class Calls:
    count = 0


def add_routes(app: FastAPI) -> None:
    @app.post("/test/unavailable")
    async def unavailable(who: Who) -> JSONResponse:
        Calls.count += 1
        return JSONResponse({"calls": Calls.count}, status_code=503)

    @app.post("/test/crash")
    async def crash(who: Who) -> None:
        Calls.count += 1
        raise RuntimeError("a bug")

    @app.post("/test/counted")
    async def counted(who: Who) -> JSONResponse:
        Calls.count += 1
        return JSONResponse({"calls": Calls.count})

    @app.post("/test/large")
    async def large(who: Who) -> StreamingResponse:
        Calls.count += 1
        chunks = (b"x" * 512 for _ in range(6))  # beyond what is kept for replays
        return StreamingResponse(chunks, media_type="text/plain")


@pytest.fixture(scope="module")
async def client(database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(database_url=database_url, nats_url=nats_url, max_body_bytes=MAX_BYTES)
    app = create_app(settings)
    add_routes(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http
    await app.state.herald.db.dispose()


@pytest.fixture
async def auth(db: Database) -> dict[str, str]:
    key = generate_key()
    async with db.transaction() as session:
        tenant = Tenant(id=new_id(), name="idempotency")
        session.add(tenant)
        await session.flush()
        session.add(
            ApiKey(
                tenant_id=tenant.id, name="k", role="admin", prefix=key[:8], key_hash=digest(key)
            )
        )
    return {"Authorization": f"Bearer {key}"}


async def _records(db: Database, key: str) -> int:
    async with db.transaction() as session:
        query = select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.key == key)
        return int(await session.scalar(query) or 0)


@pytest.mark.parametrize("path", ["/test/unavailable", "/test/crash"])
async def test_a_server_error_is_not_stored_and_a_retry_runs_again(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, path: str
) -> None:
    key = f"fail-{uuid.uuid4()}"
    headers = {**auth, "Idempotency-Key": key}
    before = Calls.count
    with capture_logs():  # rendering a crash's traceback to the console is slow
        first = await client.post(path, headers=headers)
    assert first.status_code in (500, 503)
    assert await _records(db, key) == 0, "released: the client may retry"
    with capture_logs():
        again = await client.post(path, headers=headers)
    assert again.status_code == first.status_code
    assert "idempotent-replayed" not in again.headers
    assert Calls.count == before + 2


async def test_a_response_too_large_to_keep_streams_whole_and_is_not_stored(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database
) -> None:
    key = f"large-{uuid.uuid4()}"
    response = await client.post("/test/large", headers={**auth, "Idempotency-Key": key})
    assert response.status_code == 200
    assert response.content == b"x" * 3072
    assert await _records(db, key) == 0


async def test_without_the_header_nothing_is_recorded(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database
) -> None:
    before = Calls.count
    for _ in range(2):
        assert (await client.post("/test/large", headers=auth)).status_code == 200
    assert Calls.count == before + 2


async def test_with_no_rate_limit_a_repeated_post_is_still_replayed(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database
) -> None:
    """The key is read outside a transaction only when nothing needs one: a request with an
    Idempotency-Key still claims it, rate limit or not (this app has none)."""
    key = f"counted-{uuid.uuid4()}"
    headers = {**auth, "Idempotency-Key": key}
    first = await client.post("/test/counted", headers=headers)
    again = await client.post("/test/counted", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json(), "the stored response, not a second call"
    assert again.headers.get("idempotent-replayed") == "true"
    assert await _records(db, key) == 1


async def test_an_authenticated_request_answers_while_every_worker_thread_is_busy(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """Authenticating a request takes no worker thread (a plain ``def`` dependency would take
    one on every request): with the pool's threads all taken, requests are still answered."""
    threads = anyio.to_thread.current_default_thread_limiter()
    capacity = threads.total_tokens
    threads.total_tokens = 1
    await threads.acquire()
    try:
        with anyio.fail_after(3):
            response = await client.post("/test/counted", headers=auth)
    finally:
        threads.release()
        threads.total_tokens = capacity
    assert response.status_code == 200
