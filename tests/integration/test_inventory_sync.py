"""The signage inventory sync against the Yodeck contract fake and real PostgreSQL: one sync
per account at a time under a lock with expiry, a stale lock taken over, a lock lost mid-sync
writes nothing, a failure keeps the last inventory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from herald.common import locks
from herald.common.credentials import CredentialBox, Sealed
from herald.common.db.engine import Database
from herald.common.db.models import Channel, ChannelInventory, Lock
from herald.common.ids import new_id
from herald.publisher.adapters.platforms.base import PlatformAdapter
from herald.publisher.adapters.platforms.yodeck import YodeckAdapter
from herald.publisher.domain.inventory import sync_due
from herald.publisher.inventory_sync import Account, InventorySync
from herald.publisher.named_locks import NamedLocks
from tests.fakes.yodeck import TOKEN, Scripted, YodeckFake, yodeck_fake
from tests.integration.webhook_rows import add_tenant


@pytest.fixture
async def fake() -> AsyncIterator[YodeckFake]:
    async with yodeck_fake() as running:
        yield running


@pytest.fixture
async def adapters(fake: YodeckFake, db: Database) -> AsyncIterator[dict[str, PlatformAdapter]]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        locks_ = NamedLocks(db, "test", ttl_s=10, wait_s=5)
        yield {"yodeck": YodeckAdapter(client, locks_, api_url=fake.url, allow_private=True)}


async def _account(db: Database, box: CredentialBox, token: str = TOKEN) -> Account:
    tenant = await add_tenant(db)
    sealed = box.seal({"api_token": token})
    channel = Channel(
        id=new_id(),
        tenant_id=tenant,
        platform="yodeck",
        name="Lobby screens",
        config={"playlist": "10"},
        credentials_ciphertext=sealed.ciphertext,
        credentials_key_id=sealed.key_id,
    )
    async with db.transaction() as session:
        session.add(channel)
    return Account(channel.id, tenant, "yodeck", dict(channel.config), sealed)


def _sync(
    db: Database, box: CredentialBox, adapters: dict[str, PlatformAdapter], owner: str
) -> InventorySync:
    return InventorySync(db, box, adapters, owner, lock_ttl_s=2.0)


async def _inventory(db: Database, channel_id: uuid.UUID) -> ChannelInventory | None:
    async with db.transaction() as session:
        return await session.get(ChannelInventory, channel_id)


def _lock(account: Account) -> str:
    return f"inventory:yodeck:{account.channel_id}"


def test_a_sync_is_due_when_never_tried_or_tried_an_interval_ago() -> None:
    now, every = datetime(2026, 12, 5, 12, tzinfo=UTC), timedelta(minutes=5)
    assert sync_due(None, now, every)
    assert sync_due(now - every, now, every)
    assert not sync_due(now - every + timedelta(seconds=1), now, every)


async def test_a_round_syncs_a_new_account_and_then_waits_for_the_interval(
    db: Database, box: CredentialBox, adapters: dict[str, PlatformAdapter]
) -> None:
    account = await _account(db, box)
    sync = _sync(db, box, adapters, "p1")
    await sync.round()
    stored = await _inventory(db, account.channel_id)
    assert stored is not None
    assert stored.error is None
    assert stored.synced_at is not None
    assert [(s["id"], s["playlist"]) for s in stored.screens] == [
        ("1", "10"),
        ("2", "20"),
        ("3", None),
    ]
    assert [p["name"] for p in stored.playlists] == ["Lobby loop", "Cafe menu"]
    assert account.channel_id not in {a.channel_id for a in await sync._due(datetime.now(UTC))}
    async with db.transaction() as session:
        assert await session.get(Lock, _lock(account)) is None, "released after the sync"


async def test_two_publishers_sync_one_account_once(
    db: Database, box: CredentialBox, adapters: dict[str, PlatformAdapter], fake: YodeckFake
) -> None:
    account = await _account(db, box)
    fake.read_delay_s = 0.2
    outcomes = await asyncio.gather(
        _sync(db, box, adapters, "p1").sync(account), _sync(db, box, adapters, "p2").sync(account)
    )
    assert sorted(outcomes) == ["busy", "synced"]
    assert fake.calls.count("GET /api/v2/screens/") == 1


async def test_a_stale_lock_is_taken_over(
    db: Database, box: CredentialBox, adapters: dict[str, PlatformAdapter]
) -> None:
    account = await _account(db, box)
    async with db.transaction() as session:
        await locks.acquire(session, _lock(account), "crashed-publisher", ttl_s=60)
    assert await _sync(db, box, adapters, "p1").sync(account) == "busy"
    async with db.transaction() as session:  # the crashed holder's lock expires
        await session.execute(
            update(Lock)
            .where(Lock.name == _lock(account))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await _sync(db, box, adapters, "p1").sync(account) == "synced"


async def test_a_lock_lost_mid_sync_writes_nothing(
    db: Database, box: CredentialBox, adapters: dict[str, PlatformAdapter], fake: YodeckFake
) -> None:
    """The holder stalls past its lock's expiry and another publisher takes it over: the
    stalled sync's result is not written over whatever the new holder writes."""
    account = await _account(db, box)
    fake.read_delay_s = 0.3
    stalled = asyncio.create_task(_sync(db, box, adapters, "stalled").sync(account))
    await asyncio.sleep(0.15)
    async with db.transaction() as session:
        await session.execute(
            update(Lock)
            .where(Lock.name == _lock(account))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert await locks.acquire(session, _lock(account), "thief", ttl_s=60) is not None
    assert await stalled == "lost"
    assert await _inventory(db, account.channel_id) is None
    async with db.transaction() as session:
        owner = await session.scalar(select(Lock.owner).where(Lock.name == _lock(account)))
    assert owner == "thief", "the stalled sync did not release the new holder's lock"


async def test_a_failed_sync_keeps_the_last_inventory_and_says_why(
    db: Database, box: CredentialBox, adapters: dict[str, PlatformAdapter], fake: YodeckFake
) -> None:
    account = await _account(db, box)
    sync = _sync(db, box, adapters, "p1")
    assert await sync.sync(account) == "synced"
    fake.script.append(Scripted(503, detail="Service unavailable."))
    assert await sync.sync(account) == "transient"
    stored = await _inventory(db, account.channel_id)
    assert stored is not None
    assert len(stored.screens) == 3
    assert stored.error == "http_503: the platform answered 503: Service unavailable."
    revoked = await _account(db, box, token="herald:revoked")
    assert await sync.sync(revoked) == "auth"
    refused = await _inventory(db, revoked.channel_id)
    assert refused is not None
    assert (refused.synced_at, refused.screens) == (None, [])


async def test_an_account_that_cannot_be_read_is_recorded_and_the_others_go_on(
    db: Database, box: CredentialBox, adapters: dict[str, PlatformAdapter]
) -> None:
    """A credential sealed with a key this publisher no longer has: the sync records why,
    which moves the account's turn on, instead of stopping every round at it."""
    broken = await _account(db, box)
    unreadable = Account(
        broken.channel_id,
        broken.tenant_id,
        "yodeck",
        broken.config,
        Sealed("retired-key", broken.sealed.ciphertext),
    )
    sync = _sync(db, box, adapters, "p1")
    assert await sync.sync(unreadable) == "error"
    stored = await _inventory(db, broken.channel_id)
    assert stored is not None
    assert stored.error is not None
    assert stored.error.startswith("error: CredentialKeyError")
    assert await sync.sync(await _account(db, box)) == "synced"
