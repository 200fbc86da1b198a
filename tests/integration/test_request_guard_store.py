"""The API's request budgets and Idempotency-Key records against real PostgreSQL: one statement
admits atomically under concurrency, claims are exclusive, and expired records are pruned."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from herald.api.adapters import idempotency_store
from herald.api.adapters.idempotency_store import Slot
from herald.api.adapters.request_budget_store import (
    KEY_AND_SPEND,
    bucket_key,
    budget_params,
    judged,
    spend,
)
from herald.api.domain.idempotency import Fingerprint, Verdict
from herald.api.domain.request_budget import Budget, Spend
from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.db.models import ApiKey, IdempotencyKey, RateLimitBucket
from herald.common.ids import new_id
from herald.common.settings import HeraldSettings
from herald.recovery.domain.retention import RetentionPolicy
from herald.recovery.sweeps import prune_finished
from tests.integration.webhook_rows import add_tenant

SLOW = Budget(rate_per_s=0.01, burst=5)  # a token back every 100 s: nothing refills in a test
LOCK, TTL = timedelta(seconds=60), timedelta(hours=24)
REQUEST = Fingerprint.of("POST", "/v1/assets", b"{}")


async def _spend(db: Database, key: str, budget: Budget = SLOW) -> Spend:
    async with db.transaction() as session:
        return await spend(session, key, budget)


async def test_concurrent_spends_admit_exactly_the_burst(db: Database) -> None:
    key = f"api-key:{uuid.uuid4()}"
    spends = await asyncio.gather(*(_spend(db, key) for _ in range(12)))
    allowed = [s for s in spends if s.allowed]
    assert len(allowed) == SLOW.burst
    assert sorted(s.remaining for s in allowed) == list(range(SLOW.burst))
    for refused in (s for s in spends if not s.allowed):
        assert timedelta(seconds=99) < refused.retry_after <= timedelta(seconds=100)
        assert refused.remaining == 0


async def test_a_refusal_writes_nothing_and_other_keys_are_untouched(db: Database) -> None:
    key, other = f"api-key:{uuid.uuid4()}", f"api-key:{uuid.uuid4()}"
    for _ in range(SLOW.burst):
        assert (await _spend(db, key)).allowed
    first, second = await _spend(db, key), await _spend(db, key)
    assert not first.allowed
    assert not second.allowed
    assert first.tat == second.tat, "refused requests do not push the schedule out"
    assert (await _spend(db, other)).remaining == SLOW.burst - 1


async def test_a_spent_budget_comes_back_at_the_rate(db: Database) -> None:
    # A token comes back every 200 ms; a loaded machine may take that long between two spends,
    # so spend until the first refusal (the burst at least is admitted) rather than counting.
    fast = Budget(rate_per_s=5, burst=2)
    key = f"api-key:{uuid.uuid4()}"
    spends = [await _spend(db, key, fast)]
    while spends[-1].allowed and len(spends) < 20:
        spends.append(await _spend(db, key, fast))
    refused = spends[-1]
    assert not refused.allowed
    assert len(spends) > fast.burst
    assert timedelta(0) < refused.retry_after <= timedelta(milliseconds=200)
    await asyncio.sleep(refused.retry_after.total_seconds())
    assert (await _spend(db, key, fast)).allowed


async def _api_key(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    tenant = await add_tenant(db)
    key = ApiKey(
        id=new_id(),
        tenant_id=tenant,
        name="k",
        role="editor",
        prefix="hk_",
        key_hash=new_id().bytes,
    )
    async with db.transaction() as session:
        session.add(key)
    return tenant, key.id


async def _key_and_spend(db: Database, digest: bytes, budget: Budget = SLOW) -> Spend | None:
    """``auth.principal``'s common case: the key read and its budget spent in one statement,
    on an autocommit connection; None when the key is unknown or not usable."""
    async with db.autocommit() as connection:
        params = {"digest": digest, **budget_params(budget)}
        row = (await connection.execute(KEY_AND_SPEND, params)).first()
        if row is None or not row.usable:
            return None
        return await judged(connection, row.id, row, budget)


async def _bucket(db: Database, key_id: uuid.UUID) -> RateLimitBucket | None:
    async with db.transaction() as session:
        return await session.get(RateLimitBucket, bucket_key(key_id))


async def test_a_key_read_with_its_spend_admits_exactly_the_burst_under_concurrency(
    db: Database,
) -> None:
    _, key_id = await _api_key(db)
    async with db.transaction() as session:
        digest = (await session.get_one(ApiKey, key_id)).key_hash
    spends = await asyncio.gather(*(_key_and_spend(db, digest) for _ in range(12)))
    assert None not in spends
    allowed = [s for s in spends if s is not None and s.allowed]
    assert len(allowed) == SLOW.burst
    assert sorted(s.remaining for s in allowed) == list(range(SLOW.burst))
    for refused in (s for s in spends if s is not None and not s.allowed):
        assert timedelta(seconds=99) < refused.retry_after <= timedelta(seconds=100)
    # the same bucket as a request with an Idempotency-Key spends from (in a transaction)
    assert not (await _spend(db, bucket_key(key_id))).allowed


async def test_an_unknown_revoked_or_expired_key_spends_nothing(db: Database) -> None:
    assert await _key_and_spend(db, new_id().bytes) is None, "unknown"
    past = datetime.now(UTC) - timedelta(seconds=1)
    for column in ("revoked_at", "expires_at"):
        _, key_id = await _api_key(db)
        async with db.transaction() as session:
            await session.execute(update(ApiKey).where(ApiKey.id == key_id).values({column: past}))
            digest = (await session.get_one(ApiKey, key_id)).key_hash
        assert await _key_and_spend(db, digest) is None, column
        assert await _bucket(db, key_id) is None, f"{column}: no bucket made, no token taken"


async def test_a_key_expiring_while_its_request_waits_is_judged_as_it_arrived(
    db: Database,
) -> None:
    """The key is judged once, before the wait for the bucket's lock: the answer and the spend
    agree (usable and spent), and the next request is refused and spends nothing."""
    _, key_id = await _api_key(db)
    soon = datetime.now(UTC) + timedelta(seconds=3)  # the request arrives well before
    async with db.transaction() as session:
        await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(expires_at=soon))
        digest = (await session.get_one(ApiKey, key_id)).key_hash
    params = {"digest": digest, **budget_params(SLOW)}
    assert await _key_and_spend(db, digest) is not None  # its bucket exists now

    async def arriving() -> Any:
        async with db.autocommit() as connection:
            return (await connection.execute(KEY_AND_SPEND, params)).one()

    async with db.transaction() as holder:  # another replica's spend holds the bucket
        held = select(RateLimitBucket).where(RateLimitBucket.key == bucket_key(key_id))
        await holder.execute(held.with_for_update())
        waiting = asyncio.create_task(arriving())
        await asyncio.sleep((soon - datetime.now(UTC)).total_seconds() + 0.2)  # expired now
    arrived = await waiting
    assert arrived.usable and arrived.tat is not None, "usable as it arrived, and its token taken"
    late = await arriving()
    assert not late.usable and late.tat is None
    bucket = await _bucket(db, key_id)
    assert bucket is not None and bucket.tat == arrived.tat, "the expired key spent nothing"


async def test_a_refusal_without_a_bucket_is_retried_at_once_not_an_error(db: Database) -> None:
    """A safety net: a usable key's refusal always finds its bucket, but should none be there,
    the request is refused with the shortest wait, never answered with a 500."""
    async with db.autocommit() as connection:
        row = (await connection.execute(select(func.now().label("now")))).one()
        decision = await judged(connection, uuid.uuid4(), _Unspent(row.now), SLOW)
    assert not decision.allowed
    assert decision.retry_after_s == 1


async def _claim(
    db: Database, slot: Slot, tenant: uuid.UUID, request: Fingerprint = REQUEST
) -> idempotency_store.Claim:
    async with db.transaction() as session:
        return await idempotency_store.claim(session, slot, tenant, request, LOCK, TTL)


async def test_one_of_concurrent_claims_wins_and_a_stored_response_is_replayed(
    db: Database, settings: HeraldSettings
) -> None:
    tenant, api_key = await _api_key(db)
    slot = Slot(api_key, "k1")
    claims = await asyncio.gather(*(_claim(db, slot, tenant) for _ in range(6)))
    winners = [c for c in claims if c.token is not None]
    assert len(winners) == 1
    assert winners[0].verdict is None
    assert {c.verdict for c in claims if c.token is None} == {Verdict.IN_PROGRESS}

    box = CredentialBox.from_setting(settings.credential_keys)
    sealed = box.seal({"body": "e30="})
    token = winners[0].token
    assert token is not None
    async with db.transaction() as session:
        headers = [["content-type", "application/json"]]
        assert await idempotency_store.complete(session, slot, token, 201, headers, sealed)
    replay = await _claim(db, slot, tenant)
    assert replay.verdict is Verdict.REPLAY
    assert replay.stored is not None
    assert (replay.stored.status, replay.stored.headers) == (201, headers)
    assert box.open(replay.stored.body) == {"body": "e30="}
    other = await _claim(db, slot, tenant, Fingerprint.of("POST", "/v1/assets", b"[]"))
    assert other.verdict is Verdict.REUSED


async def test_a_released_key_runs_again_and_a_late_finisher_cannot_overwrite(
    db: Database, settings: HeraldSettings
) -> None:
    tenant, api_key = await _api_key(db)
    slot = Slot(api_key, "k2")
    first = await _claim(db, slot, tenant)
    assert first.token is not None
    async with db.transaction() as session:
        await idempotency_store.release(session, slot, first.token)  # it answered 503
    second = await _claim(db, slot, tenant)
    assert (second.verdict, second.token is not None) == (None, True)

    async with db.transaction() as session:  # the second request's process dies
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.api_key_id == api_key)
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    third = await _claim(db, slot, tenant)
    assert third.verdict is Verdict.TAKE_OVER
    assert third.token is not None
    sealed = CredentialBox.from_setting(settings.credential_keys).seal({"body": ""})
    assert second.token is not None
    async with db.transaction() as session:
        assert not await idempotency_store.complete(session, slot, second.token, 201, [], sealed)
        assert await idempotency_store.complete(session, slot, third.token, 201, [], sealed)


async def test_expired_records_are_pruned_and_live_ones_kept(db: Database) -> None:
    tenant, api_key = await _api_key(db)
    now = datetime.now(UTC)
    async with db.transaction() as session:
        for key, expires_at in (("old", now - timedelta(seconds=1)), ("live", now + TTL)):
            session.add(
                IdempotencyKey(
                    api_key_id=api_key,
                    key=key,
                    tenant_id=tenant,
                    method="POST",
                    path="/v1/assets",
                    body_sha256=b"",
                    claim=new_id(),
                    status=201,
                    expires_at=expires_at,
                )
            )
    pruned = await prune_finished(db, RetentionPolicy())
    assert pruned["idempotency_keys"] >= 1
    async with db.transaction() as session:
        left = await session.scalars(
            select(IdempotencyKey.key).where(IdempotencyKey.api_key_id == api_key)
        )
        assert list(left) == ["live"]


async def test_full_api_key_buckets_are_pruned_and_others_kept(db: Database) -> None:
    full, busy, channel = (
        f"api-key:{uuid.uuid4()}",
        f"api-key:{uuid.uuid4()}",
        f"channel:{uuid.uuid4()}",
    )
    now = datetime.now(UTC)
    async with db.transaction() as session:
        session.add(RateLimitBucket(key=full, tat=now - timedelta(seconds=1)))
        session.add(RateLimitBucket(key=channel, tat=now - timedelta(seconds=1)))
    await _spend(db, busy)  # its TAT is 100 s ahead
    await prune_finished(db, RetentionPolicy())
    async with db.transaction() as session:
        left = await session.scalars(
            select(RateLimitBucket.key).where(RateLimitBucket.key.in_([full, busy, channel]))
        )
        assert set(left) == {busy, channel}, "the publisher's buckets are its own"


@dataclass(frozen=True)
class _Unspent:
    """A ``KEY_AND_SPEND`` row whose budget took nothing."""

    now: datetime
    tat: datetime | None = None
