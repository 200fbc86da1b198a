"""``herald keys rotate`` against a real PostgreSQL: every sealed value moves to the active key.

The rotation touches every row of the database, so these tests use a database of their own.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from herald.cli.key_rotation import KeyRing, RotationError, rotate
from herald.common.credentials import CredentialBox, Sealed
from herald.common.db.engine import Database
from herald.common.db.models import ApiKey, Channel, IdempotencyKey, Tenant, WebhookEndpoint
from herald.common.ids import new_id
from tests.conftest import fresh_database

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(100, 132))).decode()
RING_A = f"a:{KEY_A}"
RING_AB = f"a:{KEY_A},b:{KEY_B}"


@pytest.fixture(scope="module")
def rotation_database_url(postgres_admin_url: str) -> str:
    return fresh_database(postgres_admin_url, "herald_keys")


@pytest.fixture
async def rdb(rotation_database_url: str) -> AsyncIterator[Database]:
    database = Database(rotation_database_url, pool_size=2)
    async with database.transaction() as session:  # each test starts from no rows at all
        await session.execute(delete(Tenant))
    yield database
    await database.dispose()


@dataclass(frozen=True)
class Rows:
    channels: list[uuid.UUID]
    endpoint: uuid.UUID
    idempotency: tuple[uuid.UUID, str]


PLAIN = {
    "channel": {"token": "tok-1"},
    "secret": {"secret": "whsec_current"},
    "previous": {"secret": "whsec_previous"},
    "response": {"body": "eyJpZCI6IDF9"},
}


async def seed(db: Database, box: CredentialBox, channels: int = 3) -> Rows:
    """A tenant with ``channels`` sealed channels and a disconnected one, a webhook endpoint
    with a current and a previous secret, and a stored idempotent response."""
    tenant_id, key_id = new_id(), new_id()
    rows = Rows([new_id() for _ in range(channels)], new_id(), (key_id, "k-1"))
    now = datetime.now(UTC)
    async with db.transaction() as session:
        session.add(Tenant(id=tenant_id, name="keys"))
        await session.flush()
        for n, channel_id in enumerate(rows.channels):
            sealed = box.seal({**PLAIN["channel"], "n": n})
            session.add(
                Channel(
                    id=channel_id,
                    tenant_id=tenant_id,
                    platform="sandbox",
                    name=f"c{n}",
                    config={"account": f"a{n}"},
                    credentials_ciphertext=sealed.ciphertext,
                    credentials_key_id=sealed.key_id,
                )
            )
        session.add(Channel(tenant_id=tenant_id, platform="sandbox", name="off", config={}))
        current, previous = box.seal(PLAIN["secret"]), box.seal(PLAIN["previous"])
        session.add(
            WebhookEndpoint(
                id=rows.endpoint,
                tenant_id=tenant_id,
                url="https://hooks.example.com/x",
                secret_ciphertext=current.ciphertext,
                secret_key_id=current.key_id,
                previous_secret_ciphertext=previous.ciphertext,
                previous_secret_key_id=previous.key_id,
                previous_secret_expires_at=now + timedelta(hours=1),
            )
        )
        session.add(
            ApiKey(
                id=key_id,
                tenant_id=tenant_id,
                name="k",
                role="admin",
                prefix="hk_x",
                key_hash=key_id.bytes,
            )
        )
        await session.flush()
        response = box.seal(PLAIN["response"])
        session.add(
            IdempotencyKey(
                api_key_id=key_id,
                key="k-1",
                tenant_id=tenant_id,
                method="POST",
                path="/v1/assets",
                body_sha256=b"x",
                claim=new_id(),
                status=201,
                response_headers=[],
                response_key_id=response.key_id,
                response_ciphertext=response.ciphertext,
                expires_at=now + timedelta(days=1),
            )
        )
    return rows


async def sealed_values(db: Database) -> dict[str, list[Sealed]]:
    async with db.transaction() as session:
        channels = (
            await session.execute(
                select(Channel.credentials_key_id, Channel.credentials_ciphertext)
                .where(Channel.credentials_key_id.is_not(None))
                .order_by(Channel.id)
            )
        ).all()
        endpoint = (await session.scalars(select(WebhookEndpoint))).one()
        response = (await session.scalars(select(IdempotencyKey))).one()
    assert endpoint.previous_secret_key_id and endpoint.previous_secret_ciphertext
    assert response.response_key_id and response.response_ciphertext
    return {
        "channel": [Sealed(kid, ct) for kid, ct in channels if kid and ct],
        "secret": [Sealed(endpoint.secret_key_id, endpoint.secret_ciphertext)],
        "previous": [Sealed(endpoint.previous_secret_key_id, endpoint.previous_secret_ciphertext)],
        "response": [Sealed(response.response_key_id, response.response_ciphertext)],
    }


def key_ids(values: dict[str, list[Sealed]]) -> set[str]:
    return {s.key_id for sealed in values.values() for s in sealed}


async def test_rotation_reseals_everything_with_the_active_key_and_a_second_run_nothing(
    rdb: Database,
) -> None:
    await seed(rdb, CredentialBox.from_setting(RING_A), channels=7)
    ring = KeyRing.from_settings(RING_AB, "b")
    progress: list[str] = []

    counts = await rotate(rdb, ring, progress.append, batch=3)

    assert counts == {
        "channel credentials": 7,
        "webhook secrets": 1,
        "previous webhook secrets": 1,
        "stored idempotent responses": 1,
    }
    assert progress[:3] == [f"… channel credentials: {n} of 7 re-sealed" for n in (3, 6, 7)]
    after = await sealed_values(rdb)
    assert key_ids(after) == {"b"}
    only_b = CredentialBox.from_setting(f"b:{KEY_B}")
    opened = [only_b.open(s) for s in after["channel"]]
    assert opened == [{**PLAIN["channel"], "n": n} for n in range(7)]
    for kind in ("secret", "previous", "response"):
        assert [only_b.open(s) for s in after[kind]] == [PLAIN[kind]]
    async with rdb.transaction() as session:  # the disconnected channel stays without any
        off = await session.scalar(select(Channel).where(Channel.name == "off"))
    assert off is not None and (off.credentials_key_id, off.credentials_ciphertext) == (None, None)

    again: list[str] = []
    assert set((await rotate(rdb, ring, again.append)).values()) == {0}
    assert again == []
    assert await sealed_values(rdb) == after  # not even re-encrypted with a fresh nonce


async def test_a_dry_run_counts_and_changes_nothing(rdb: Database) -> None:
    await seed(rdb, CredentialBox.from_setting(RING_A))
    before = await sealed_values(rdb)
    counts = await rotate(rdb, KeyRing.from_settings(RING_AB, "b"), print, dry_run=True)
    assert counts["channel credentials"] == 3
    assert await sealed_values(rdb) == before


async def test_a_value_sealed_with_a_key_the_ring_lacks_stops_it_before_any_change(
    rdb: Database,
) -> None:
    await seed(rdb, CredentialBox.from_setting(RING_A))
    async with rdb.transaction() as session:
        await session.execute(
            update(Channel)
            .where(Channel.credentials_key_id == "a", Channel.name.in_(["c0", "c1"]))
            .values(credentials_key_id="gone")
        )
    before = await sealed_values(rdb)
    with pytest.raises(RotationError) as refused:
        await rotate(rdb, KeyRing.from_settings(RING_AB, "b"), print)
    message = str(refused.value)
    assert "2 channel credentials sealed with key 'gone'" in message
    assert "\n" not in message
    assert await sealed_values(rdb) == before


def test_an_invalid_key_ring_is_refused() -> None:
    with pytest.raises(RotationError, match="HERALD_CREDENTIAL_KEYS is invalid"):
        KeyRing.from_settings("a:not-base64!", None)
    with pytest.raises(RotationError, match="'c' is not in the key ring"):
        KeyRing.from_settings(RING_AB, "c")


async def run_cli(database_url: str, ring: str, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_CREDENTIAL_KEYS": ring,
        "HERALD_CREDENTIAL_ACTIVE_KEY": "b",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "herald.cli",
        "keys",
        "rotate",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_rotates_then_finds_nothing_left_and_names_an_unknown_key(
    rdb: Database, rotation_database_url: str
) -> None:
    # each run costs a process start (seconds on a loaded machine): three tell the story
    await seed(rdb, CredentialBox.from_setting(RING_A), channels=2)

    code, out, err = await run_cli(rotation_database_url, RING_AB, "--batch-size", "1")
    assert (code, err) == (0, ""), err
    assert "… channel credentials: 2 of 2 re-sealed" in out
    assert out.splitlines()[-1] == (
        "re-sealed 2 channel credentials, 1 webhook secrets, 1 previous webhook secrets, "
        "1 stored idempotent responses with key 'b'"
    )
    assert key_ids(await sealed_values(rdb)) == {"b"}

    code, out, err = await run_cli(rotation_database_url, RING_AB)
    assert (code, out.strip(), err) == (0, "re-sealed nothing with key 'b'", "")

    await seed(rdb, CredentialBox.from_setting(RING_A), channels=1)
    code, out, err = await run_cli(rotation_database_url, f"b:{KEY_B}", "--dry-run")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("herald: 1 channel credentials sealed with")
    assert "key 'a'" in err
