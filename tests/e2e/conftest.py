"""The real services as separate processes, on the session's NATS and a database of their own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from herald.cli.fleet import Fleet, ServiceSpec
from herald.cli.infra.ports import free_port
from herald.cli.installation import Ports, service_specs, shared_env
from herald.common.db.engine import Database
from herald.common.db.models import PublishJob
from herald.common.domain.job_states import JobStatus
from tests.conftest import fresh_database
from tests.fakes.google_business import CLIENT_ID as GOOGLE_CLIENT_ID
from tests.fakes.google_business import CLIENT_SECRET as GOOGLE_CLIENT_SECRET
from tests.fakes.google_business import GoogleBusinessFake, google_business_fake
from tests.fakes.linkedin import CLIENT_ID as LINKEDIN_CLIENT_ID
from tests.fakes.linkedin import CLIENT_SECRET as LINKEDIN_CLIENT_SECRET
from tests.fakes.linkedin import LinkedInFake, linkedin_fake
from tests.fakes.x_api import CLIENT_ID as X_CLIENT_ID
from tests.fakes.x_api import CLIENT_SECRET as X_CLIENT_SECRET
from tests.fakes.x_api import XFake, x_fake
from tests.fakes.yodeck import YodeckFake, yodeck_fake
from tests.otlp_collector import Collector, otlp_collector

OPERATOR_TOKEN = "e2e-operator-token"


@dataclass
class System:
    fleet: Fleet
    api_url: str
    sandbox_url: str
    database_url: str
    nats_url: str
    log_file: Path


@pytest.fixture(scope="package")
def collector() -> Iterator[Collector]:
    """Where the fleet exports its traces, as it would to an OpenTelemetry Collector."""
    with otlp_collector() as running:
        yield running


@pytest.fixture(scope="package")
async def google() -> AsyncIterator[GoogleBusinessFake]:
    """Google Business Profile and Google's token endpoint, where the fleet's publishers go."""
    async with google_business_fake() as fake:
        yield fake


@pytest.fixture(scope="package")
async def x_api() -> AsyncIterator[XFake]:
    """X's API v2 and token endpoint, where the fleet's publishers go."""
    async with x_fake() as fake:
        yield fake


@pytest.fixture(scope="package")
async def linkedin() -> AsyncIterator[LinkedInFake]:
    """LinkedIn's REST API and token endpoint, where the fleet's publishers go."""
    async with linkedin_fake() as fake:
        yield fake


@pytest.fixture(scope="package")
async def yodeck() -> AsyncIterator[YodeckFake]:
    """A Yodeck account's REST API, where the fleet's publishers go."""
    async with yodeck_fake() as fake:
        yield fake


@pytest.fixture(scope="package")
def system(
    infra_dir: Path,
    nats_url: str,
    postgres_admin_url: str,
    collector: Collector,
    google: GoogleBusinessFake,
    x_api: XFake,
    linkedin: LinkedInFake,
    yodeck: YodeckFake,
) -> Iterator[System]:
    database_url = fresh_database(postgres_admin_url, "herald_e2e")
    ports = Ports(
        **{name: free_port() for name in ("sandbox", "api", "publisher", "alerter", "recovery")}
    )
    log_file = infra_dir / "fleet.log"
    log = log_file.open("a", buffering=1)

    def sink(service: str, line: str) -> None:
        log.write(f"{service:>9} | {line}\n")

    second = free_port()  # two publishers, as in production: they share every consumer
    specs = [
        *service_specs(ports),
        ServiceSpec("publisher-2", "herald.publisher", second, {"HERALD_HTTP_PORT": str(second)}),
    ]
    env = {
        **shared_env(ports, database_url, nats_url, OPERATOR_TOKEN),
        "HERALD_PLATFORM_TIMEOUT_S": "3",
        "HERALD_ALERT_RULES_INTERVAL_S": "0.5",  # platform alerts show up within a second
        "HERALD_TOKEN_UPKEEP_INTERVAL_S": "0.5",  # idle channels' tokens refreshed at once
        "HERALD_WEBHOOK_RETRY_SCHEDULE_S": "0.2,0.2,0.2,0.2,0.2",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # spans arrive within a fraction of a second
        "HERALD_GOOGLE_API_URL": google.url,
        "HERALD_GOOGLE_TOKEN_URL": f"{google.url}/token",
        "HERALD_GOOGLE_AUTHORIZE_URL": f"{google.url}/authorize",
        "HERALD_GOOGLE_CLIENT_ID": GOOGLE_CLIENT_ID,
        "HERALD_GOOGLE_CLIENT_SECRET": GOOGLE_CLIENT_SECRET,
        "HERALD_X_API_URL": x_api.url,
        "HERALD_X_TOKEN_URL": f"{x_api.url}/2/oauth2/token",
        "HERALD_X_AUTHORIZE_URL": f"{x_api.url}/i/oauth2/authorize",
        "HERALD_X_CLIENT_ID": X_CLIENT_ID,
        "HERALD_X_CLIENT_SECRET": X_CLIENT_SECRET,
        "HERALD_LINKEDIN_API_URL": linkedin.url,
        "HERALD_LINKEDIN_TOKEN_URL": f"{linkedin.url}/oauth/v2/accessToken",
        "HERALD_LINKEDIN_AUTHORIZE_URL": f"{linkedin.url}/oauth/v2/authorization",
        "HERALD_LINKEDIN_CLIENT_ID": LINKEDIN_CLIENT_ID,
        "HERALD_LINKEDIN_CLIENT_SECRET": LINKEDIN_CLIENT_SECRET,
        "HERALD_YODECK_API_URL": yodeck.url,
        "HERALD_INVENTORY_SYNC_INTERVAL_S": "1",
    }
    fleet = Fleet(specs, sink, env)
    fleet.start()
    try:
        fleet.wait_ready(timeout=90)
        yield System(
            fleet,
            f"http://127.0.0.1:{ports.api}",
            f"http://127.0.0.1:{ports.sandbox}",
            database_url,
            nats_url,
            log_file,
        )
    finally:
        fleet.stop()
        log.close()


@pytest.fixture(scope="package")
async def e2e_db(system: System) -> AsyncIterator[Database]:
    database = Database(system.database_url, pool_size=2)
    yield database
    await database.dispose()


GIVEN_SECRETS: set[str] = set()
"""Every credential value a test gave a channel: no API response and no log line may hold one."""


def remember_secrets(credentials: object) -> None:
    if isinstance(credentials, dict):
        for value in credentials.values():
            remember_secrets(value)
    elif isinstance(credentials, str) and len(credentials) >= 8:
        GIVEN_SECRETS.add(credentials)


async def _no_secret_in(response: httpx.Response) -> None:
    request = response.request
    if request.method in {"POST", "PATCH"} and request.url.path.startswith("/v1/channels"):
        with contextlib.suppress(ValueError, AttributeError):  # not JSON: nothing was stored
            remember_secrets(json.loads(request.content or b"{}").get("credentials"))
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return  # a stream never ends; the live-updates tests read it themselves
    body = (await response.aread()).decode(errors="replace")
    leaked = [secret for secret in GIVEN_SECRETS if secret in body]
    assert not leaked, f"{request.method} {request.url} returned a credential"


@pytest.fixture
async def api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=system.api_url, timeout=30, event_hooks={"response": [_no_secret_in]}
    ) as client:
        yield client


@pytest.fixture
async def sandbox(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.sandbox_url, timeout=30) as client:
        yield client


@dataclass(frozen=True)
class Tenant:
    id: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
async def tenant(api: httpx.AsyncClient) -> Tenant:
    response = await api.post(
        "/v1/tenants", json={"name": "e2e"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Tenant(body["tenant"]["id"], body["api_key"])


async def make_channel(
    api: httpx.AsyncClient,
    tenant: Tenant,
    account: str,
    token: str = "secret-token",  # noqa: S107
) -> str:
    remember_secrets({"token": token})
    response = await api.post(
        "/v1/channels",
        headers=tenant.auth,
        json={
            "platform": "sandbox",
            "name": account,
            "config": {"account": account},
            "credentials": {"token": token},
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def eventually(
    check: Callable[[], Awaitable[object]], timeout: float = 60.0, interval: float = 0.1
) -> None:
    """Poll an async ``check`` until it returns truthy, or fail with its last value."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"not reached within {timeout}s (last: {last!r})")


async def insert_queued_job(
    db: Database, tenant: Tenant, asset_id: str, channel: str, requested_at: datetime
) -> PublishJob:
    """A queued job written straight to the database, as if its request were lost or pending."""
    async with db.transaction() as session:
        job = PublishJob(
            tenant_id=uuid.UUID(tenant.id),
            asset_id=uuid.UUID(asset_id),
            channel_id=uuid.UUID(channel),
            platform="sandbox",
            status=JobStatus.QUEUED,
            queued_at=requested_at,
            requested_at=requested_at,
        )
        session.add(job)
    return job


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The log check runs right after every other end-to-end test (it reads what they logged),
    while their fleet is still up."""
    last = [i for i in items if i.name == "test_no_credential_in_any_service_log"]
    rest = [i for i in items if i not in last]
    e2e = [n for n, i in enumerate(rest) if "/tests/e2e/" in str(i.path)]
    at = e2e[-1] + 1 if e2e else len(rest)
    items[:] = rest[:at] + last + rest[at:]


async def one_of_everything(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, a: Tenant
) -> dict[str, str]:
    """Tenant ``a`` with a channel, an approved asset and its job, an alert (a second channel
    fails), a silence, a webhook endpoint and a viewer key: their ids by path parameter."""
    good, bad = (f"matrix-{uuid.uuid4().hex[:6]}" for _ in range(2))
    channel, failing = await make_channel(api, a, good), await make_channel(api, a, bad)
    await sandbox.post("/faults", json={"account": bad, "responses": [{"status": 400}]})
    asset = (
        await api.post(
            "/v1/assets",
            headers=a.auth,
            json={"title": "t", "body": "b", "channel_ids": [channel, failing]},
        )
    ).json()
    approved = (await api.post(f"/v1/assets/{asset['id']}/approve", headers=a.auth)).json()

    async def alert() -> str | None:
        items = (await api.get("/v1/alerts", headers=a.auth)).json()["items"]
        return str(items[0]["id"]) if items else None

    await eventually(alert)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    silence = await api.post(
        "/v1/silences",
        headers=a.auth,
        json={"reason": "r", "ends_at": tomorrow, "channel_id": channel},
    )
    assert silence.status_code == 201, silence.text
    endpoint = await api.post(
        "/v1/webhook-endpoints", headers=a.auth, json={"url": "https://hooks.example.com/a"}
    )
    assert endpoint.status_code == 201, endpoint.text
    key = await api.post("/v1/api-keys", headers=a.auth, json={"name": "v", "role": "viewer"})
    return {
        "asset_id": asset["id"],
        "channel_id": channel,
        "job_id": approved["jobs"][0]["id"],
        "alert_id": str(await alert()),
        "silence_id": silence.json()["id"],
        "endpoint_id": endpoint.json()["id"],
        "key_id": key.json()["id"],
    }
