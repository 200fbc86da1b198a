"""Fixtures for integration tests: JetStream with Herald's streams, and rows to work on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.db.models import Asset, Channel, PublishJob, Tenant
from herald.common.domain.job_states import JobStatus
from herald.common.ids import new_id
from herald.common.settings import HeraldSettings
from herald.common.streams import ensure_streams
from tests.fakes.media_host import media_host
from tests.integration.webhook_rows import add_tenant
from tests.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture(scope="session")
def settings(nats_url: str, database_url: str) -> HeraldSettings:
    return HeraldSettings(nats_url=nats_url, database_url=database_url)


@pytest.fixture(scope="session")
async def nc(nats_url: str, settings: HeraldSettings) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    await ensure_streams(client.jetstream(), settings)
    yield client
    await client.drain()


@pytest.fixture(scope="session")
def js(nc: Client) -> JetStreamContext:
    return nc.jetstream()


@pytest.fixture
def box(settings: HeraldSettings) -> CredentialBox:
    """The session's credential key ring, as the services have it."""
    return CredentialBox.from_setting(settings.credential_keys)


@pytest.fixture
async def files() -> AsyncIterator[str]:
    """A media host (``tests.fakes.media_host``): its base URL."""
    async with media_host() as base:
        yield base


_RECORDING: ContextVar[object | None] = ContextVar("recorded_statements", default=None)


@contextmanager
def recorded_statements(db: Database) -> Iterator[list[str]]:
    """The SQL of every statement ``db`` sends while the block runs (to count round trips),
    from this task and from the tasks it starts meanwhile (they inherit the context). Tasks
    started before the block are not its own: e.g. an earlier test's relay writing its
    lingering sent marks. A block nested in another counts its statements for itself only;
    a block must end in the task it began in (its context variable is reset there)."""
    seen: list[str] = []
    block = object()
    token = _RECORDING.set(block)

    def record(*args: object) -> None:
        if _RECORDING.get() is block:
            seen.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        _RECORDING.reset(token)


def one_read(statements: list[str]) -> bool:
    """Whether a block sent a single SELECT (a polling loop's idle tick: its probe, and no
    claiming UPDATE or DELETE in a transaction of its own)."""
    return len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")


@dataclass(frozen=True)
class JobRows:
    tenant_id: uuid.UUID
    channel_id: uuid.UUID
    asset_id: uuid.UUID
    job_id: uuid.UUID


@pytest.fixture
async def job_rows(db: Database, settings: HeraldSettings) -> JobRows:
    """A tenant, a sandbox channel, an approved asset and its queued publish job."""
    return await add_job_rows(db, settings.credential_keys)


async def add_job_rows(db: Database, credential_keys: str) -> JobRows:
    """A tenant, a sandbox channel, an approved asset and its queued publish job."""
    box = CredentialBox.from_setting(credential_keys)
    sealed = box.seal({"token": "t"})
    rows = JobRows(new_id(), new_id(), new_id(), new_id())
    async with db.transaction() as session:
        session.add(Tenant(id=rows.tenant_id, name="t"))
        await session.flush()
        session.add(
            Channel(
                id=rows.channel_id,
                tenant_id=rows.tenant_id,
                platform="sandbox",
                name="c",
                config={"account": f"acct-{rows.job_id.hex[:8]}"},
                credentials_ciphertext=sealed.ciphertext,
                credentials_key_id=sealed.key_id,
            )
        )
        await session.flush()
        await queue_job(session, rows, rows.asset_id, rows.job_id)
    return rows


async def queue_job(
    session: AsyncSession, rows: JobRows, asset_id: uuid.UUID, job_id: uuid.UUID
) -> None:
    """An approved asset on ``rows``' channel and its queued sandbox job."""
    session.add(
        Asset(
            id=asset_id,
            tenant_id=rows.tenant_id,
            title="t",
            body="b",
            media=[],
            channel_ids=[rows.channel_id],
            status="approved",
        )
    )
    await session.flush()
    session.add(
        PublishJob(
            id=job_id,
            tenant_id=rows.tenant_id,
            asset_id=asset_id,
            channel_id=rows.channel_id,
            platform="sandbox",
            status=JobStatus.QUEUED,
        )
    )


async def add_queued_jobs(db: Database, rows: JobRows, n: int) -> list[uuid.UUID]:
    """``n`` more queued jobs on ``rows``' channel, each of its own asset."""
    jobs = [new_id() for _ in range(n)]
    async with db.transaction() as session:
        for job in jobs:
            await queue_job(session, rows, new_id(), job)
    return jobs


@pytest.fixture
async def tenant_id(db: Database) -> uuid.UUID:
    """A tenant of its own (webhook tests)."""
    return await add_tenant(db)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real webhook receiver on an ephemeral loopback port."""
    async with webhook_receiver() as running:
        yield running
