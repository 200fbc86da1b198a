"""The API gateway's hardening through real processes: a per-key rate limit that two replicas
share, idempotent POSTs (replays, conflicts, takeover of a dead request), and CORS.

Two API replicas of their own run here, on a database of their own, with a low rate limit and
CORS configured; the shared fleet (unconfigured) shows CORS off.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from herald.api.auth import digest
from herald.api.domain.idempotency import Fingerprint
from herald.cli.fleet import Fleet, ServiceSpec
from herald.cli.infra.ports import free_port
from herald.common.db.engine import Database
from herald.common.db.models import ApiKey, Asset, IdempotencyKey, RateLimitBucket
from herald.common.ids import new_id
from tests.conftest import fresh_database
from tests.e2e.conftest import OPERATOR_TOKEN, System, Tenant

BURST = 20
RATE_PER_S = 0.2  # one request back every 5 s: a burst sent within that never sees a refill
ORIGIN = "https://console.example.com"
PROBLEM = "application/problem+json"


@dataclass
class Replicas:
    urls: list[str]
    database_url: str
    log_file: Path


@pytest.fixture(scope="module")
def replicas(infra_dir: Path, nats_url: str, postgres_admin_url: str) -> Iterator[Replicas]:
    database_url = fresh_database(postgres_admin_url, "herald_guard")
    ports: list[int] = []
    while len(ports) < 2:
        if (port := free_port()) not in ports:
            ports.append(port)
    log_file = infra_dir / "hardening.log"
    log = log_file.open("a", buffering=1)

    def sink(service: str, line: str) -> None:
        log.write(f"{service:>9} | {line}\n")

    env = {
        "HERALD_DATABASE_URL": database_url,
        "HERALD_NATS_URL": nats_url,
        "HERALD_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "HERALD_API_RATE_LIMIT_PER_S": str(RATE_PER_S),
        "HERALD_API_RATE_LIMIT_BURST": str(BURST),
        "HERALD_CORS_ORIGINS": f"{ORIGIN}, http://localhost:5173",
    }
    specs = [
        ServiceSpec(f"api-{n}", "herald.api", port, {"HERALD_HTTP_PORT": str(port)})
        for n, port in enumerate(ports, start=1)
    ]
    fleet = Fleet(specs, sink, env)
    fleet.start()
    try:
        fleet.wait_ready(timeout=60)
        yield Replicas([spec.base_url for spec in specs], database_url, log_file)
    finally:
        fleet.stop()
        log.close()


@pytest.fixture
async def clients(replicas: Replicas) -> AsyncIterator[list[httpx.AsyncClient]]:
    one, two = (httpx.AsyncClient(base_url=url, timeout=30) for url in replicas.urls)
    async with one, two:
        yield [one, two]


@pytest.fixture(scope="module")
async def guard_db(replicas: Replicas) -> AsyncIterator[Database]:
    database = Database(replicas.database_url, pool_size=2)
    yield database
    await database.dispose()


async def new_tenant(client: httpx.AsyncClient) -> Tenant:
    response = await client.post(
        "/v1/tenants", json={"name": "guard"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    assert response.status_code == 201, response.text
    assert "ratelimit-limit" not in response.headers, "the operator token is not limited"
    body = response.json()
    return Tenant(body["tenant"]["id"], body["api_key"])


async def new_channel(client: httpx.AsyncClient, tenant: Tenant) -> str:
    response = await client.post(
        "/v1/channels",
        headers=tenant.auth,
        json={
            "platform": "sandbox",
            "name": "lobby",
            "config": {"account": f"guard-{uuid.uuid4().hex[:6]}"},
            "credentials": {"token": "t"},
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def asset_body(channel: str, title: str = "launch") -> bytes:
    return json.dumps({"title": title, "body": "b", "channel_ids": [channel]}).encode()


async def post_asset(
    client: httpx.AsyncClient, tenant: Tenant, body: bytes, key: str | bytes
) -> httpx.Response:
    raw = key if isinstance(key, bytes) else key.encode()
    headers = [
        *((name.encode(), value.encode()) for name, value in tenant.auth.items()),
        (b"content-type", b"application/json"),
        (b"idempotency-key", raw),
    ]
    return await client.post("/v1/assets", content=body, headers=headers)


async def count_assets(db: Database, tenant: Tenant) -> int:
    async with db.transaction() as session:
        query = (
            select(func.count()).select_from(Asset).where(Asset.tenant_id == uuid.UUID(tenant.id))
        )
        return int(await session.scalar(query) or 0)


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code


# --- rate limit ------------------------------------------------------------------------------


async def test_a_burst_beyond_the_budget_is_refused_across_replicas_until_retry_after(
    clients: list[httpx.AsyncClient], replicas: Replicas
) -> None:
    tenant = await new_tenant(clients[0])
    replica = itertools.cycle(clients)  # both replicas spend from the one budget
    responses = await asyncio.gather(
        *(next(replica).get("/v1/channels", headers=tenant.auth) for _ in range(BURST + 5))
    )
    admitted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(admitted) + len(refused) == BURST + 5, [r.status_code for r in responses]
    assert BURST <= len(admitted) <= BURST + 1, "the replicas share one budget"
    for response in refused:
        assert_problem(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["ratelimit-remaining"] == "0"
    assert {r.headers["ratelimit-limit"] for r in responses} == {str(BURST)}
    remaining = sorted(int(r.headers["ratelimit-remaining"]) for r in admitted)
    assert remaining[: BURST - 1] == list(range(BURST - 1))

    refusal = await clients[1].get("/v1/channels", headers=tenant.auth)
    assert_problem(refusal, 429, "rate_limited")
    await asyncio.sleep(int(refusal.headers["retry-after"]))
    again = await clients[0].get("/v1/channels", headers=tenant.auth)
    assert again.status_code == 200, again.text
    assert again.headers["ratelimit-remaining"] == "0"

    log = replicas.log_file.read_text()
    assert '"http.rate_limited"' in log
    assert tenant.key not in log, "no key material in the logs"


async def test_two_keys_have_budgets_of_their_own(clients: list[httpx.AsyncClient]) -> None:
    spender, bystander = await new_tenant(clients[0]), await new_tenant(clients[0])
    for _ in range(BURST):
        assert (await clients[0].get("/v1/channels", headers=spender.auth)).status_code == 200
    assert (await clients[1].get("/v1/channels", headers=spender.auth)).status_code == 429
    other = await clients[1].get("/v1/channels", headers=bystander.auth)
    assert other.status_code == 200
    assert other.headers["ratelimit-remaining"] == str(BURST - 1)


async def test_an_unknown_or_revoked_key_is_refused_without_a_budget(
    clients: list[httpx.AsyncClient], guard_db: Database
) -> None:
    """With the budget on, a request's key is read and its budget spent in one statement:
    a key that is unknown or revoked gets 401, and spends nothing of a budget."""
    admin = await new_tenant(clients[0])
    made = await clients[0].post(
        "/v1/api-keys", headers=admin.auth, json={"name": "r", "role": "viewer"}
    )
    assert made.status_code == 201, made.text
    key_id, key = made.json()["id"], made.json()["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    assert (await clients[1].get("/v1/channels", headers=auth)).status_code == 200
    revoked = await clients[0].delete(f"/v1/api-keys/{key_id}", headers=admin.auth)
    assert revoked.status_code == 204, revoked.text
    spent = await _bucket_tat(guard_db, key_id)
    assert spent is not None, "its one admitted request spent from its budget"
    for headers in (auth, {"Authorization": "Bearer hk_unknown"}):
        response = await clients[1].get("/v1/channels", headers=headers)
        assert_problem(response, 401, "unauthorized")
        assert "ratelimit-limit" not in response.headers
    assert await _bucket_tat(guard_db, key_id) == spent, "the revoked key spent nothing"


async def _bucket_tat(db: Database, key_id: str) -> datetime | None:
    async with db.transaction() as session:
        bucket = await session.get(RateLimitBucket, f"api-key:{key_id}")
        return bucket.tat if bucket is not None else None


async def test_probes_are_not_limited(clients: list[httpx.AsyncClient]) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        response = await clients[0].get(path)
        assert response.status_code == 200
        assert "ratelimit-limit" not in response.headers
    metrics = (await clients[0].get("/metrics")).text
    assert "herald_api_rate_limited_total" in metrics


# --- idempotent POSTs --------------------------------------------------------------------------


async def test_a_repeated_post_is_replayed_with_one_effect(
    clients: list[httpx.AsyncClient], guard_db: Database
) -> None:
    tenant = await new_tenant(clients[0])
    channel = await new_channel(clients[0], tenant)
    body, key = asset_body(channel), f"create-{uuid.uuid4()}"
    first = await post_asset(clients[0], tenant, body, key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await post_asset(clients[1], tenant, body, key)  # the other replica
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"]
    assert "ratelimit-remaining" in again.headers, "a replay still spends the budget"
    assert await count_assets(guard_db, tenant) == 1

    other = await post_asset(clients[0], tenant, body, f"create-{uuid.uuid4()}")
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"], "another key is another request"
    metrics = (await clients[1].get("/metrics")).text
    assert 'herald_api_idempotency_total{outcome="replayed"}' in metrics


async def test_the_same_key_on_another_request_is_a_conflict(
    clients: list[httpx.AsyncClient], guard_db: Database
) -> None:
    tenant = await new_tenant(clients[0])
    channel = await new_channel(clients[0], tenant)
    key = f"k-{uuid.uuid4()}"
    assert (await post_asset(clients[0], tenant, asset_body(channel), key)).status_code == 201
    other_body = await post_asset(clients[1], tenant, asset_body(channel, "other"), key)
    assert_problem(other_body, 409, "idempotency_key_reused")
    other_path = await clients[0].post(
        "/v1/channels",
        headers={**tenant.auth, "idempotency-key": key},
        json={"platform": "sandbox", "name": "x", "config": {"account": "x"}, "credentials": {}},
    )
    assert_problem(other_path, 409, "idempotency_key_reused")
    assert await count_assets(guard_db, tenant) == 1

    elsewhere = await new_tenant(clients[0])  # keys are scoped per API key
    channel_b = await new_channel(clients[0], elsewhere)
    assert (await post_asset(clients[0], elsewhere, asset_body(channel_b), key)).status_code == 201


async def test_concurrent_duplicates_have_exactly_one_effect(
    clients: list[httpx.AsyncClient], guard_db: Database
) -> None:
    tenant = await new_tenant(clients[0])
    channel = await new_channel(clients[0], tenant)
    body, key = asset_body(channel, "at once"), f"race-{uuid.uuid4()}"
    responses = await asyncio.gather(
        *(post_asset(clients[n % 2], tenant, body, key) for n in range(8))
    )
    created = [r for r in responses if r.status_code == 201]
    busy = [r for r in responses if r.status_code == 409]
    assert len(created) + len(busy) == len(responses), [r.text for r in responses]
    assert created, "one of them ran"
    assert len({r.json()["id"] for r in created}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in created) == 1
    for response in busy:
        assert_problem(response, 409, "idempotency_key_in_progress")
        assert response.headers["retry-after"] == "1"
    assert await count_assets(guard_db, tenant) == 1
    settled = await post_asset(clients[0], tenant, body, key)
    assert settled.headers["idempotent-replayed"] == "true"
    assert settled.json()["id"] == created[0].json()["id"]


async def _record_in_progress(
    db: Database, tenant: Tenant, key: str, body: bytes, locked_until: datetime
) -> None:
    """A record as a request leaves it that is running, or that died with its process."""
    fingerprint = Fingerprint.of("POST", "/v1/assets", body)
    async with db.transaction() as session:
        api_key = await session.scalar(
            select(ApiKey.id).where(ApiKey.key_hash == digest(tenant.key))
        )
        assert api_key is not None
        session.add(
            IdempotencyKey(
                api_key_id=api_key,
                key=key,
                tenant_id=uuid.UUID(tenant.id),
                method=fingerprint.method,
                path=fingerprint.path,
                body_sha256=fingerprint.body_sha256,
                claim=new_id(),
                locked_until=locked_until,
                created_at=locked_until - timedelta(seconds=60),
                expires_at=locked_until + timedelta(hours=24),
            )
        )


async def test_a_request_that_died_in_progress_is_taken_over_after_its_lock(
    clients: list[httpx.AsyncClient], guard_db: Database
) -> None:
    tenant = await new_tenant(clients[0])
    channel = await new_channel(clients[0], tenant)
    body, now = asset_body(channel, "orphan"), datetime.now(UTC)
    running, dead = f"running-{uuid.uuid4()}", f"dead-{uuid.uuid4()}"
    await _record_in_progress(guard_db, tenant, running, body, now + timedelta(seconds=60))
    await _record_in_progress(guard_db, tenant, dead, body, now - timedelta(seconds=1))

    busy = await post_asset(clients[0], tenant, body, running)
    assert_problem(busy, 409, "idempotency_key_in_progress")
    assert busy.headers["retry-after"] == "1"
    taken = await post_asset(clients[1], tenant, body, dead)
    assert taken.status_code == 201, taken.text
    replay = await post_asset(clients[0], tenant, body, dead)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == taken.json()["id"]
    assert await count_assets(guard_db, tenant) == 1
    async with guard_db.transaction() as session:
        status = await session.scalar(
            select(IdempotencyKey.status).where(IdempotencyKey.key == dead)
        )
    assert status == 201


@pytest.mark.parametrize(
    "key", [b"", b"x" * 256, b"tab\tinside", b"caf\xe9"], ids=["empty", "long", "tab", "latin-1"]
)
async def test_an_invalid_idempotency_key_is_400(
    clients: list[httpx.AsyncClient], guard_db: Database, key: bytes
) -> None:
    tenant = await new_tenant(clients[0])
    channel = await new_channel(clients[0], tenant)
    response = await post_asset(clients[0], tenant, asset_body(channel), key)
    assert_problem(response, 400, "invalid_idempotency_key")
    assert await count_assets(guard_db, tenant) == 0


async def test_the_body_limit_still_applies_to_idempotent_posts(
    clients: list[httpx.AsyncClient],
) -> None:
    tenant = await new_tenant(clients[0])
    response = await post_asset(clients[0], tenant, b"x" * 2_000_000, "big")
    assert_problem(response, 413, "payload_too_large")


async def test_a_failed_validation_is_replayed_too(clients: list[httpx.AsyncClient]) -> None:
    tenant = await new_tenant(clients[0])
    body, key = json.dumps({"title": "", "body": "b", "channel_ids": []}).encode(), "bad"
    first = await post_asset(clients[0], tenant, body, key)
    assert_problem(first, 422, "validation_error")
    again = await post_asset(clients[1], tenant, body, key)
    assert_problem(again, 422, "validation_error")
    assert again.headers["idempotent-replayed"] == "true"


# --- CORS ----------------------------------------------------------------------------------------


async def test_a_configured_origin_may_call_from_a_browser(
    clients: list[httpx.AsyncClient],
) -> None:
    preflight = await clients[0].options(
        "/v1/assets",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()

    tenant = await new_tenant(clients[0])
    response = await clients[0].get("/v1/channels", headers={**tenant.auth, "Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "retry-after" in exposed
    assert "ratelimit-remaining" in exposed

    stranger = await clients[0].options(
        "/v1/assets",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in stranger.headers


async def test_cors_is_off_unless_configured(api: httpx.AsyncClient, system: System) -> None:
    preflight = await api.options(
        "/v1/assets", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    response = await api.get("/healthz", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers
