"""Webhook sending against real PostgreSQL and a real HTTP receiver: sign, send, retry, give
up, refuse, rotate, and never send one delivery from two senders at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from herald.alerter.adapters import delivery_store
from herald.common.db.engine import Database
from herald.common.db.models import WebhookDelivery, WebhookEndpoint
from herald.common.webhooks import new_secret, seal_secret
from tests.integration.conftest import one_read, recorded_statements
from tests.integration.webhook_rows import (
    BOX,
    add_endpoint,
    delivery,
    drive,
    raise_alert,
    sender,
    statuses,
    tries,
)
from tests.webhook_receiver import Receiver


async def test_a_receiver_failing_three_times_gets_it_on_the_fourth_try_with_one_webhook_id(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    _, secret = await add_endpoint(db, tenant_id, receiver.url)
    (delivery_id,) = await raise_alert(db, tenant_id)
    receiver.script = [500, 500, 500]
    sending = sender(db, database_url)
    await drive(sending, db, [delivery_id])
    await sending.aclose()

    got = receiver.of(str(delivery_id))
    assert len(got) == 4
    assert len({r.body for r in got}) == 1
    assert all(r.verifies_with(secret) for r in got)
    assert got[0].json["type"] == "alert.raised"
    row = await delivery(db, delivery_id)
    assert (row.status, row.attempts, row.last_http_status, row.last_error) == (
        "delivered",
        4,
        200,
        None,
    )
    assert row.finished_at is not None and row.claimed_until is None
    log = await tries(db, delivery_id)
    assert [(t.number, t.outcome, t.http_status) for t in log] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "failed", 500),
        (4, "delivered", 200),
    ]
    assert log[0].error == "HTTP 500" and log[0].duration_ms is not None


async def test_a_delivery_claimed_by_a_crashed_sender_is_sent_again_once_the_claim_expires(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    _, secret = await add_endpoint(db, tenant_id, receiver.url)
    (delivery_id,) = await raise_alert(db, tenant_id)
    now = datetime.now(UTC)
    claimed = await delivery_store.claim_due(db, now, limit=100, claim_s=60)
    assert delivery_id in {d.delivery.id for d in claimed}  # ... and then the sender died
    sending = sender(db, database_url)
    await sending.send_due()
    assert receiver.of(str(delivery_id)) == []  # the claim is still live

    async with db.transaction() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(claimed_until=now - timedelta(seconds=1))
        )
    await drive(sending, db, [delivery_id])
    await sending.aclose()
    (got,) = receiver.of(str(delivery_id))
    assert got.verifies_with(secret)
    assert (await delivery(db, delivery_id)).status == "delivered"


async def test_two_senders_never_send_one_delivery_at_the_same_time(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    await add_endpoint(db, tenant_id, receiver.url)
    ids = [i for _ in range(30) for i in await raise_alert(db, tenant_id)]
    receiver.delay_s = 0.05
    first, second = sender(db, database_url), sender(db, database_url)
    while "pending" in await statuses(db, ids):
        await asyncio.gather(first.send_due(), second.send_due())
    await first.aclose()
    await second.aclose()
    assert sorted(r.webhook_id for r in receiver.received) == sorted(str(i) for i in ids)
    workers = {t.worker for i in ids for t in await tries(db, i)}
    assert len(workers) == 2  # both took part
    assert receiver.most_in_flight > 1


async def test_a_schedule_that_runs_out_fails_the_delivery(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    await add_endpoint(db, tenant_id, receiver.url)
    (delivery_id,) = await raise_alert(db, tenant_id)
    receiver.script = [503] * 10
    sending = sender(db, database_url, webhook_retry_schedule_s="0,0")
    await drive(sending, db, [delivery_id])
    await sending.aclose()
    row = await delivery(db, delivery_id)
    assert (row.status, row.attempts, row.last_http_status) == ("failed", 3, 503)
    assert row.finished_at is not None
    assert len(receiver.of(str(delivery_id))) == 3
    assert [t.outcome for t in await tries(db, delivery_id)] == ["failed"] * 3


async def test_a_secret_that_no_longer_opens_fails_its_tries_until_the_schedule_runs_out(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    """The key ring lost the endpoint's key: each try is recorded as failed (never a crash
    that leaves the delivery claimed for ever), and the delivery ends failed."""
    endpoint_id, _ = await add_endpoint(db, tenant_id, receiver.url)
    async with db.transaction() as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(secret_key_id="retired")
        )
    (delivery_id,) = await raise_alert(db, tenant_id)
    sending = sender(db, database_url, webhook_retry_schedule_s="0")
    await drive(sending, db, [delivery_id])
    await sending.aclose()
    row = await delivery(db, delivery_id)
    assert (row.status, row.attempts) == ("failed", 2)
    assert "retired" in (row.last_error or "")
    assert receiver.of(str(delivery_id)) == []


async def test_retries_wait_for_the_schedule(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    await add_endpoint(db, tenant_id, receiver.url)
    (delivery_id,) = await raise_alert(db, tenant_id)
    receiver.script = [500]
    sending = sender(db, database_url, webhook_retry_schedule_s="300")
    await sending.send_due()
    await sending.send_due()
    await sending.aclose()
    row = await delivery(db, delivery_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > datetime.now(UTC) + timedelta(seconds=290)
    assert len(receiver.of(str(delivery_id))) == 1


async def test_a_private_target_is_refused_without_sending(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    await add_endpoint(db, tenant_id, receiver.url)  # http://127.0.0.1:<port>/hook
    (delivery_id,) = await raise_alert(db, tenant_id)
    sending = sender(
        db, database_url, webhook_allow_private_targets=False, webhook_retry_schedule_s="0"
    )
    await drive(sending, db, [delivery_id])
    await sending.aclose()
    assert receiver.received == []
    row = await delivery(db, delivery_id)
    assert (row.status, row.attempts, row.last_http_status) == ("failed", 2, None)
    assert row.last_error is not None and "loopback" in row.last_error
    assert [t.outcome for t in await tries(db, delivery_id)] == ["refused", "refused"]


async def test_during_a_rotation_both_secrets_sign_and_each_verifies_alone(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    old = new_secret()
    sealed_old = seal_secret(BOX, old)
    _, new = await add_endpoint(
        db,
        tenant_id,
        receiver.url,
        previous_secret_ciphertext=sealed_old.ciphertext,
        previous_secret_key_id=sealed_old.key_id,
        previous_secret_expires_at=datetime.now(UTC) + timedelta(hours=24),
    )
    (delivery_id,) = await raise_alert(db, tenant_id, "alert.escalated")
    sending = sender(db, database_url)
    await drive(sending, db, [delivery_id])
    await sending.aclose()
    (got,) = receiver.of(str(delivery_id))
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert got.verifies_with(new) and got.verifies_with(old)
    assert not got.verifies_with(new_secret())


async def test_the_loop_sends_when_woken_and_stops_cleanly(
    db: Database, database_url: str, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    await add_endpoint(db, tenant_id, receiver.url)
    sending = sender(db, database_url, webhook_poll_interval_s=30)
    stop = asyncio.Event()
    loop = asyncio.create_task(sending.run(stop))
    await asyncio.sleep(0.2)  # the first look found nothing; the next poll is 30 s away
    (delivery_id,) = await raise_alert(db, tenant_id)
    sending.wake()
    for _ in range(100):
        if receiver.of(str(delivery_id)):
            break
        await asyncio.sleep(0.02)
    assert len(receiver.of(str(delivery_id))) == 1
    stop.set()
    await asyncio.wait_for(loop, 5)
    assert (await delivery(db, delivery_id)).status == "delivered"


async def test_an_idle_poll_reads_once_and_claims_nothing(
    db: Database, tenant_id: uuid.UUID, receiver: Receiver
) -> None:
    """Nothing due: a poll is one read, no claiming transaction. A delivery made since is
    claimed by the next poll."""
    now = datetime.now(UTC)
    await delivery_store.claim_due(db, now, limit=100_000, claim_s=600)  # other tests' rows
    with recorded_statements(db) as statements:
        assert await delivery_store.claim_due(db, now, limit=16, claim_s=60) == []
    assert one_read(statements), statements
    await add_endpoint(db, tenant_id, receiver.url)
    (delivery_id,) = await raise_alert(db, tenant_id)
    claimed = await delivery_store.claim_due(db, datetime.now(UTC), limit=16, claim_s=60)
    assert [d.delivery.id for d in claimed] == [delivery_id]
