"""The publisher's token upkeep, and a refused channel's jobs parked together, against real
PostgreSQL and the contract fakes of X's and Google's token endpoints over real HTTP.

A round looks at every channel of the database, so these tests use a database of their own,
emptied before each test.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.nats import NatsBroker
from sqlalchemy import delete, func, literal_column, select, text, update

from herald.api.service_layer.job_control import resume_waiting_auth
from herald.common.credentials import CredentialBox, Sealed
from herald.common.db.engine import Database
from herald.common.db.models import (
    Asset,
    Channel,
    OutboxMessage,
    PublishAttempt,
    PublishJob,
    Tenant,
)
from herald.common.domain.job_states import JobStatus
from herald.common.domain.token_grants import expires_at
from herald.common.events import ChannelAuthFailed
from herald.common.ids import new_id
from herald.common.oauth import OAuthClient
from herald.common.outbox import OutboxRelay
from herald.common.runtime import Runtime
from herald.publisher.adapters.platforms.base import PlatformAdapter
from herald.publisher.adapters.platforms.google_business import GoogleBusinessAdapter
from herald.publisher.adapters.platforms.sandbox import SandboxAdapter
from herald.publisher.adapters.platforms.x import XAdapter
from herald.publisher.claims import Claims
from herald.publisher.domain.token_upkeep import UpkeepPolicy
from herald.publisher.execution import Executor
from herald.publisher.settings import PublisherSettings
from herald.publisher.token_upkeep import TokenUpkeep
from herald.publisher.tokens import Tokens
from tests.conftest import fresh_database
from tests.fakes import google_business as google_fake
from tests.fakes import x_api as x_fake_module
from tests.fakes.google_business import GoogleBusinessFake, google_business_fake
from tests.fakes.x_api import XFake, x_fake

LOCATION = "accounts/100/locations/200"
WAITING = (JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.RETRYING)


@pytest.fixture(scope="module")
def upkeep_database_url(postgres_admin_url: str) -> str:
    return fresh_database(postgres_admin_url, "herald_upkeep")


@pytest.fixture
async def udb(upkeep_database_url: str) -> AsyncIterator[Database]:
    database = Database(upkeep_database_url, pool_size=6)
    async with database.transaction() as session:  # each test starts from no rows at all
        await session.execute(delete(Tenant))
        await session.execute(delete(OutboxMessage))
    yield database
    await database.dispose()


@pytest.fixture
async def x() -> AsyncIterator[XFake]:
    async with x_fake() as running:
        yield running


@pytest.fixture
async def google() -> AsyncIterator[GoogleBusinessFake]:
    async with google_business_fake() as running:
        yield running


@pytest.fixture
async def adapters(
    x: XFake, google: GoogleBusinessFake
) -> AsyncIterator[dict[str, PlatformAdapter]]:
    x_client = OAuthClient(
        platform="x",
        authorize_url=f"{x.url}/i/oauth2/authorize",
        token_url=f"{x.url}/2/oauth2/token",
        scopes=("tweet.write", "offline.access"),
        client_id=x_fake_module.CLIENT_ID,
        client_secret=x_fake_module.CLIENT_SECRET,
        basic_auth=True,
        grant_errors=frozenset({"invalid_grant", "invalid_request"}),
    )
    google_client = OAuthClient(
        platform="google_business",
        authorize_url=f"{google.url}/authorize",
        token_url=f"{google.url}/token",
        scopes=("https://www.googleapis.com/auth/business.manage",),
        client_id=google_fake.CLIENT_ID,
        client_secret=google_fake.CLIENT_SECRET,
    )
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield {
            "x": XAdapter(client, api_url=x.url, oauth_client=x_client, allow_private=True),
            "google_business": GoogleBusinessAdapter(
                client, api_url=google.url, oauth_client=google_client, allow_private=True
            ),
            "sandbox": SandboxAdapter("http://127.0.0.1:9", client),  # no tokens: never looked at
        }


@dataclass
class Relayed:
    """What the relay was handed after a commit. JetStream is away, so the rows stay as their
    transaction wrote them (``xmin`` names that transaction)."""

    subjects: list[str] = field(default_factory=list)

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        self.subjects.append(subject)
        raise ConnectionError("JetStream is away in this test")


@pytest.fixture
def relayed() -> Relayed:
    return Relayed()


def make_upkeep(
    db: Database, box: CredentialBox, adapters: dict[str, PlatformAdapter], relayed: Relayed
) -> TokenUpkeep:
    relay = OutboxRelay(db, relayed.publish, fast_timeout_s=2.0)
    return TokenUpkeep(db, relay, box, adapters, Tokens(db, box), UpkeepPolicy())


def soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def add_channel(
    db: Database, box: CredentialBox, platform: str, credentials: dict[str, Any]
) -> Channel:
    """A tenant and its channel, its credentials stored as the API stores them."""
    sealed = box.seal(credentials)
    channel = Channel(
        id=new_id(),
        tenant_id=new_id(),
        platform=platform,
        name=platform,
        config={"location": LOCATION} if platform == "google_business" else {},
        credentials_ciphertext=sealed.ciphertext,
        credentials_key_id=sealed.key_id,
        token_expires_at=expires_at(credentials),
    )
    async with db.transaction() as session:
        session.add(Tenant(id=channel.tenant_id, name="upkeep"))
        await session.flush()
        session.add(channel)
    return channel


async def add_job(
    db: Database,
    channel: Channel,
    status: JobStatus,
    *,
    scheduled_for: datetime | None = None,
    queued_at: datetime | None = None,
) -> uuid.UUID:
    job_id = new_id()
    async with db.transaction() as session:
        asset = Asset(
            id=new_id(),
            tenant_id=channel.tenant_id,
            title="Doors open",
            body=f"at 9 ({job_id.hex[:6]})",
            media=[],
            channel_ids=[channel.id],
            status="approved",
            scheduled_for=scheduled_for,
        )
        session.add(asset)
        await session.flush()
        session.add(
            PublishJob(
                id=job_id,
                tenant_id=channel.tenant_id,
                asset_id=asset.id,
                channel_id=channel.id,
                platform=channel.platform,
                status=status,
                scheduled_for=scheduled_for,
                queued_at=queued_at,
                next_attempt_at=datetime.now(UTC) + timedelta(minutes=1)
                if status is JobStatus.RETRYING
                else None,
            )
        )
    return job_id


async def stored(
    db: Database, box: CredentialBox, channel_id: uuid.UUID
) -> tuple[Channel, dict[str, Any]]:
    async with db.transaction() as session:
        channel = await session.get_one(Channel, channel_id)
    assert channel.credentials_key_id and channel.credentials_ciphertext
    return channel, box.open(Sealed(channel.credentials_key_id, channel.credentials_ciphertext))


async def statuses(db: Database, job_ids: list[uuid.UUID]) -> list[str]:
    async with db.transaction() as session:
        jobs = {j.id: j.status for j in await session.scalars(select(PublishJob))}
    return [jobs[j] for j in job_ids]


async def outbox(db: Database) -> list[tuple[str, dict[str, Any], int]]:
    """(subject, envelope, writing transaction) of every outbox row, oldest first."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(
                OutboxMessage.subject, OutboxMessage.payload, text("outbox.xmin::text::bigint")
            ).order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
        return [(r[0], json.loads(r[1]), r[2]) for r in rows]


async def xmin_of(db: Database, model: type[Channel] | type[PublishJob], row_id: uuid.UUID) -> int:
    """The transaction that last wrote the row."""
    async with db.transaction() as session:
        found = await session.scalar(
            select(literal_column("xmin::text::bigint"))
            .select_from(model)
            .where(model.id == row_id)
        )
    assert found is not None
    return int(found)


async def test_an_idle_channel_near_expiry_is_refreshed_without_any_job(
    udb: Database,
    box: CredentialBox,
    adapters: dict[str, PlatformAdapter],
    x: XFake,
    relayed: Relayed,
) -> None:
    expiring = await add_channel(
        udb,
        box,
        "x",
        {"access_token": x.mint(), "refresh_token": "x-refresh-1", "expires_at": soon(120)},
    )
    fresh = await add_channel(
        udb,
        box,
        "x",
        {"access_token": x.mint(), "refresh_token": "x-other", "expires_at": soon(7000)},
    )
    upkeep = make_upkeep(udb, box, adapters, relayed)
    outcomes = await upkeep.round()
    assert outcomes == {"refreshed": 1}
    assert x.refreshes == 1
    channel, credentials = await stored(udb, box, expiring.id)
    assert credentials["refresh_token"] in x.refresh_tokens  # the rotated one, stored
    assert credentials["access_token"] in x.access_tokens
    assert channel.token_expires_at == expires_at(credentials)  # kept in step, ~2 h ahead
    assert channel.token_expires_at is not None
    assert channel.token_expires_at > datetime.now(UTC) + timedelta(hours=1)
    assert channel.auth_state == "ok"
    untouched, _ = await stored(udb, box, fresh.id)
    assert untouched.credentials_ciphertext == fresh.credentials_ciphertext
    assert await upkeep.round() == {}  # nothing left to do
    assert x.refreshes == 1
    assert await outbox(udb) == []


async def test_a_stopping_publisher_starts_no_refresh(
    udb: Database,
    box: CredentialBox,
    adapters: dict[str, PlatformAdapter],
    x: XFake,
    relayed: Relayed,
) -> None:
    """After SIGTERM a refresh could be cut off between X rotating the refresh token and the
    new one being stored: the round starts none, and the channel waits for a live publisher."""
    await add_channel(
        udb,
        box,
        "x",
        {"access_token": x.mint(), "refresh_token": "x-refresh-1", "expires_at": soon(120)},
    )
    stopping = asyncio.Event()
    stopping.set()
    upkeep = make_upkeep(udb, box, adapters, relayed)
    assert await upkeep.round(stop=stopping) == {}
    assert x.refreshes == 0
    later = await upkeep.round()
    assert later["refreshed"] == 1, later


async def test_two_publishers_refreshing_one_channel_at_once_ask_the_token_endpoint_once(
    udb: Database,
    box: CredentialBox,
    adapters: dict[str, PlatformAdapter],
    x: XFake,
    relayed: Relayed,
) -> None:
    """X spends a refresh token with its first use: a second refresh with it would be refused
    and the channel wrongly marked. Both rounds read the channel, then meet at its row lock."""
    channel = await add_channel(
        udb,
        box,
        "x",
        {"access_token": x.mint(), "refresh_token": "x-refresh-1", "expires_at": soon(60)},
    )
    first, second = (
        make_upkeep(udb, box, adapters, relayed),
        make_upkeep(udb, box, adapters, relayed),
    )
    async with udb.transaction() as holder:  # a worker holding the row: both rounds wait for it
        await holder.execute(select(Channel.id).where(Channel.id == channel.id).with_for_update())
        rounds = asyncio.gather(first.round(), second.round())
        await _until_waiting_on_locks(udb, 2)
    outcomes = await rounds
    assert sorted(o for counted in outcomes for o in counted.elements()) == ["refreshed", "taken"]
    assert x.refreshes == 1
    kept, credentials = await stored(udb, box, channel.id)
    assert kept.auth_state == "ok"
    assert credentials["refresh_token"] in x.refresh_tokens


async def test_a_revoked_grant_marks_the_channel_and_parks_its_jobs_in_one_transaction(
    udb: Database,
    box: CredentialBox,
    adapters: dict[str, PlatformAdapter],
    x: XFake,
    relayed: Relayed,
) -> None:
    channel = await add_channel(
        udb,
        box,
        "x",
        {"access_token": x.mint(), "refresh_token": "revoked", "expires_at": soon(60)},
    )
    waiting = [
        await add_job(
            udb, channel, JobStatus.SCHEDULED, scheduled_for=datetime.now(UTC) + timedelta(hours=3)
        ),
        await add_job(udb, channel, JobStatus.QUEUED, queued_at=datetime.now(UTC)),
        await add_job(udb, channel, JobStatus.RETRYING, queued_at=datetime.now(UTC)),
    ]
    held = [
        await add_job(udb, channel, JobStatus.PROCESSING),  # in a worker's hands: its own refusal
        await add_job(udb, channel, JobStatus.SUCCEEDED),
        await add_job(udb, channel, JobStatus.UNCERTAIN),  # reconciled first, then refused alone
    ]
    other = await add_channel(udb, box, "sandbox", {"token": "t"})
    bystander = await add_job(udb, other, JobStatus.QUEUED)

    assert await make_upkeep(udb, box, adapters, relayed).round() == {"refused": 1}

    assert x.refreshes == 0
    marked, _ = await stored(udb, box, channel.id)
    assert marked.auth_state == "reauth_required"
    assert await statuses(udb, waiting) == ["waiting_auth"] * 3
    assert await statuses(udb, held) == ["processing", "succeeded", "uncertain"]
    assert await statuses(udb, [bystander]) == ["queued"]
    async with udb.transaction() as session:
        codes = {
            j.last_error_code
            for j in await session.scalars(select(PublishJob).where(PublishJob.id.in_(waiting)))
        }
        next_attempts = await session.scalar(
            select(func.count()).where(
                PublishJob.id.in_(waiting), PublishJob.next_attempt_at.is_not(None)
            )
        )
    assert (codes, next_attempts) == ({"invalid_grant"}, 0)

    rows = await outbox(udb)
    changes = {e["data"]["job_id"]: e["data"]["status"] for s, e, _ in rows if s.endswith(".jobs")}
    assert changes == {str(job): "waiting_auth" for job in waiting}  # live updates
    [alert] = [envelope for subject, envelope, _ in rows if subject == ChannelAuthFailed.subject]
    assert len(rows) == len(waiting) + 1
    assert alert["data"]["channel_id"] == str(channel.id)
    assert (alert["data"]["job_id"], alert["data"]["error_code"]) == (None, "invalid_grant")
    assert alert["tenant_id"] == str(channel.tenant_id)
    # one transaction wrote the channel's mark, the parked jobs and the events
    writer = await xmin_of(udb, Channel, channel.id)
    assert {xid for _, _, xid in rows} == {writer}
    assert {await xmin_of(udb, PublishJob, job) for job in waiting} == {writer}
    assert sorted(relayed.subjects) == sorted(subject for subject, _, _ in rows)  # after it

    # a second round leaves a reauth_required channel alone
    assert await make_upkeep(udb, box, adapters, relayed).round() == {}


async def test_reconnecting_resumes_every_parked_job_and_a_job_parked_before_its_slot_waits_for_it(
    udb: Database,
    box: CredentialBox,
    adapters: dict[str, PlatformAdapter],
    x: XFake,
    relayed: Relayed,
) -> None:
    channel = await add_channel(
        udb,
        box,
        "x",
        {"access_token": x.mint(), "refresh_token": "revoked", "expires_at": soon(60)},
    )
    slot = datetime.now(UTC) + timedelta(hours=3)
    scheduled = await add_job(udb, channel, JobStatus.SCHEDULED, scheduled_for=slot)
    queued = await add_job(udb, channel, JobStatus.QUEUED, queued_at=datetime.now(UTC))
    retrying = await add_job(udb, channel, JobStatus.RETRYING, queued_at=datetime.now(UTC))
    assert await make_upkeep(udb, box, adapters, relayed).round() == {"refused": 1}
    async with udb.transaction() as session:  # the API's reconnect (PATCH, OAuth callback)
        resumed, staged = await resume_waiting_auth(
            session, channel.tenant_id, channel.id, datetime.now(UTC)
        )
    assert len(resumed) == 3
    assert await statuses(udb, [scheduled, queued, retrying]) == ["scheduled", "queued", "queued"]
    requests = [row for row in staged if row.subject.startswith("herald.publish.requested")]
    requested = sorted(json.loads(row.payload)["data"]["job_id"] for row in requests)
    assert requested == sorted([str(queued), str(retrying)])  # the scheduled one is not due
    async with udb.transaction() as session:
        job = await session.get_one(PublishJob, scheduled)
    assert (job.scheduled_for, job.queued_at, job.last_error_code) == (slot, None, None)


async def test_a_token_endpoint_that_fails_changes_nothing_and_is_asked_again(
    udb: Database,
    box: CredentialBox,
    adapters: dict[str, PlatformAdapter],
    google: GoogleBusinessFake,
    relayed: Relayed,
) -> None:
    credentials = {
        "access_token": google.mint(),
        "refresh_token": "refresh-1",
        "expires_at": soon(90),
    }
    channel = await add_channel(udb, box, "google_business", credentials)
    job = await add_job(udb, channel, JobStatus.QUEUED, queued_at=datetime.now(UTC))
    google.token_script = [503]
    upkeep = make_upkeep(udb, box, adapters, relayed)
    assert await upkeep.round() == {"transient": 1}
    kept, now_stored = await stored(udb, box, channel.id)
    assert (kept.auth_state, now_stored) == ("ok", credentials)
    assert kept.credentials_ciphertext == channel.credentials_ciphertext
    assert await statuses(udb, [job]) == ["queued"]
    assert await outbox(udb) == []
    assert await upkeep.round() == {"refreshed": 1}  # the next round, the endpoint is back
    assert google.refreshes == 1


async def test_a_channel_is_refreshed_before_its_scheduled_slot(
    udb: Database,
    box: CredentialBox,
    adapters: dict[str, PlatformAdapter],
    google: GoogleBusinessFake,
    relayed: Relayed,
) -> None:
    """Its token has 15 minutes left (not yet due while idle), its job's slot is in 10: the
    job would refresh at the slot; the upkeep does it now, while a refusal can still be fixed."""

    def credentials() -> dict[str, Any]:
        return {
            "access_token": google.mint(),
            "refresh_token": "refresh-1",
            "expires_at": soon(900),
        }

    due = await add_channel(udb, box, "google_business", credentials())
    await add_job(
        udb, due, JobStatus.SCHEDULED, scheduled_for=datetime.now(UTC) + timedelta(minutes=10)
    )
    later = await add_channel(udb, box, "google_business", credentials())  # its slot is in 2 h
    await add_job(
        udb, later, JobStatus.SCHEDULED, scheduled_for=datetime.now(UTC) + timedelta(hours=2)
    )
    idle = await add_channel(udb, box, "google_business", credentials())
    lasting = await add_channel(  # a token that outlasts its slot
        udb, box, "google_business", {**credentials(), "expires_at": soon(3500)}
    )
    await add_job(
        udb, lasting, JobStatus.SCHEDULED, scheduled_for=datetime.now(UTC) + timedelta(minutes=10)
    )

    assert await make_upkeep(udb, box, adapters, relayed).round() == {"refreshed": 1}
    assert google.refreshes == 1
    refreshed, _ = await stored(udb, box, due.id)
    assert refreshed.token_expires_at is not None
    assert refreshed.token_expires_at > datetime.now(UTC) + timedelta(minutes=50)
    for untouched in (later, idle, lasting):
        kept, _ = await stored(udb, box, untouched.id)
        assert kept.credentials_ciphertext == untouched.credentials_ciphertext


async def _until_waiting_on_locks(db: Database, count: int) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(10):
        while True:
            async with db.engine.connect() as connection:
                if (await connection.scalar(query) or 0) >= count:
                    return
            await asyncio.sleep(0.02)


# A refused channel's other jobs park together (the publish path)


@pytest.fixture
def publisher_settings(upkeep_database_url: str, nats_url: str) -> PublisherSettings:
    return PublisherSettings(database_url=upkeep_database_url, nats_url=nats_url)


def make_executor(
    db: Database,
    box: CredentialBox,
    adapters: dict[str, PlatformAdapter],
    relayed: Relayed,
    settings: PublisherSettings,
) -> Executor:
    runtime = Runtime(settings, db, NatsBroker(), OutboxRelay(db, relayed.publish), "worker-1")
    claims = Claims(runtime, settings, adapters)
    return Executor(runtime, settings, adapters, box, claims, Tokens(db, box))


async def test_a_refused_publish_parks_the_channels_other_jobs_in_its_transaction(
    udb: Database,
    box: CredentialBox,
    adapters: dict[str, PlatformAdapter],
    x: XFake,
    relayed: Relayed,
    publisher_settings: PublisherSettings,
) -> None:
    """The first job meets the refusal (401, then the refresh token is refused): the others
    park with it instead of each calling X with a dead token."""
    channel = await add_channel(
        udb,
        box,
        "x",
        {"access_token": "stale", "refresh_token": "revoked", "expires_at": soon(3600)},
    )
    now = datetime.now(UTC)
    first = await add_job(udb, channel, JobStatus.QUEUED, queued_at=now)
    others = [
        await add_job(udb, channel, JobStatus.QUEUED, queued_at=now),
        await add_job(udb, channel, JobStatus.SCHEDULED, scheduled_for=now + timedelta(hours=1)),
        await add_job(udb, channel, JobStatus.RETRYING, queued_at=now),
    ]
    await make_executor(udb, box, adapters, relayed, publisher_settings).execute(first)

    assert await statuses(udb, [first, *others]) == ["waiting_auth"] * 4
    marked, _ = await stored(udb, box, channel.id)
    assert marked.auth_state == "reauth_required"
    assert x.tweets == []
    async with udb.transaction() as session:
        attempts = await session.scalar(select(func.count()).select_from(PublishAttempt))
    assert attempts == 1  # the first job's; the others made none
    rows = await outbox(udb)
    [alert] = [envelope for subject, envelope, _ in rows if subject == ChannelAuthFailed.subject]
    assert alert["data"]["job_id"] == str(first)  # one alert, naming the job that met it
    writer = await xmin_of(udb, Channel, channel.id)
    assert {await xmin_of(udb, PublishJob, job) for job in [first, *others]} == {writer}
    parked_changes = {
        e["data"]["job_id"]: xid for _, e, xid in rows if e["data"].get("status") == "waiting_auth"
    }
    assert parked_changes == {str(job): writer for job in [first, *others]}
    assert [xid for subject, _, xid in rows if subject == ChannelAuthFailed.subject] == [writer]


async def test_a_job_claimed_while_its_channel_awaits_reauthorization_parks_without_a_call(
    udb: Database,
    box: CredentialBox,
    adapters: dict[str, PlatformAdapter],
    x: XFake,
    relayed: Relayed,
    publisher_settings: PublisherSettings,
) -> None:
    """Approved (or retried by hand) after its channel was refused: no claim, no attempt, no
    call with credentials the platform refused; reconnecting resumes it with the others."""
    channel = await add_channel(
        udb,
        box,
        "x",
        {"access_token": x.mint(), "refresh_token": "x-refresh-1", "expires_at": soon(3600)},
    )
    async with udb.transaction() as session:
        await session.execute(
            update(Channel).where(Channel.id == channel.id).values(auth_state="reauth_required")
        )
    job = await add_job(udb, channel, JobStatus.QUEUED, queued_at=datetime.now(UTC))
    await make_executor(udb, box, adapters, relayed, publisher_settings).execute(job)

    assert await statuses(udb, [job]) == ["waiting_auth"]
    assert x.tweets == []  # the token works: any call would have posted
    async with udb.transaction() as session:
        parked = await session.get_one(PublishJob, job)
        attempts = await session.scalar(select(func.count()).select_from(PublishAttempt))
    assert (parked.attempts, attempts, parked.last_error_code) == (0, 0, "reauth_required")
    assert [e["data"]["status"] for _, e, _ in await outbox(udb)] == ["waiting_auth"]
