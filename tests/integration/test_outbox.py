"""The outbox against real PostgreSQL and JetStream: committed events are published once."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from herald.common.db.engine import Database
from herald.common.db.models import OutboxMessage
from herald.common.events import Envelope, PublishRequested
from herald.common.outbox import OutboxRelay, Publish, stage
from tests.integration.conftest import one_read, recorded_statements


def _publisher(js: JetStreamContext) -> Publish:
    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        await js.publish(subject, payload, headers=headers)

    return publish


def _relay(
    db: Database, js: JetStreamContext, *, grace_s: float = 0, mark_linger_s: float = 0.1
) -> OutboxRelay:
    return OutboxRelay(db, _publisher(js), grace_s=grace_s, mark_linger_s=mark_linger_s)


async def _stage_one(db: Database) -> tuple[OutboxMessage, Envelope]:
    command = PublishRequested(job_id=uuid.uuid4())
    envelope = Envelope.wrap(
        command, tenant_id=None, subject_id=command.job_id, now=datetime.now(UTC)
    )
    async with db.transaction() as session:
        row = stage(session, command, envelope)
    return row, envelope


async def _stream_messages(js: JetStreamContext) -> int:
    return (await js.stream_info("PUBLISH")).state.messages


def _mark_failures() -> float:
    return REGISTRY.get_sample_value("herald_outbox_mark_failures_total") or 0.0


async def _sent_at(db: Database, row_id: uuid.UUID) -> datetime | None:
    async with db.transaction() as session:
        return await session.scalar(select(OutboxMessage.sent_at).where(OutboxMessage.id == row_id))


async def test_fast_path_publishes_with_the_outbox_id_as_msg_id(
    db: Database, js: JetStreamContext
) -> None:
    row, envelope = await _stage_one(db)
    relay = _relay(db, js)
    await relay.send([row])
    last = await js.get_last_msg("PUBLISH", f"{PublishRequested.subject}.normal")
    assert last.headers is not None and last.headers["Nats-Msg-Id"] == str(envelope.id)
    assert Envelope.model_validate_json(last.data or b"") == envelope
    await relay.flush_marks()
    assert await _sent_at(db, row.id) is not None


async def test_the_fast_path_returns_once_published_and_marks_in_groups(
    db: Database, js: JetStreamContext
) -> None:
    """Sent marks linger off the caller's path: several sends' rows, one UPDATE (one now)."""

    relay = _relay(db, js, mark_linger_s=4.0)
    staged = [await _stage_one(db) for _ in range(3)]
    before = await _stream_messages(js)
    started = time.monotonic()
    await asyncio.gather(*(relay.send([row]) for row, _ in staged))
    assert time.monotonic() - started < 3.0, "the caller does not wait for the marks"
    assert await _stream_messages(js) == before + 3
    assert [await _sent_at(db, row.id) for row, _ in staged] == [None, None, None]
    marks = {await _sent_at(db, row.id) for row, _ in staged}
    deadline = time.monotonic() + 15
    while None in marks and time.monotonic() < deadline:  # written when the linger runs out
        await asyncio.sleep(0.2)
        marks = {await _sent_at(db, row.id) for row, _ in staged}
    assert None not in marks
    assert len(marks) == 1, "the three sends' rows were marked by one statement"


async def test_a_mark_that_fails_leaves_the_row_to_go_out_again_and_be_stored_once(
    db: Database, js: JetStreamContext
) -> None:
    """The sent mark cannot reach PostgreSQL: counted, never raised; the background relay
    publishes the row again, and JetStream's duplicate window keeps one copy."""

    await _relay(db, js).drain()  # rows other tests left unsent must not blur the count
    row, _ = await _stage_one(db)
    failures = _mark_failures()
    before = await _stream_messages(js)
    with socket.socket() as held:  # bound, never listening: every connection is refused
        held.bind(("127.0.0.1", 0))
        nowhere = Database(f"postgresql+asyncpg://herald@127.0.0.1:{held.getsockname()[1]}/h")
        try:
            relay = OutboxRelay(nowhere, _publisher(js), grace_s=0, mark_linger_s=0)
            await relay.send([row])
            await relay.flush_marks()
        finally:
            await nowhere.dispose()
    assert _mark_failures() == failures + 1
    assert await _stream_messages(js) == before + 1
    assert await _sent_at(db, row.id) is None
    assert await _relay(db, js).drain() == 1
    assert await _sent_at(db, row.id) is not None
    assert await _stream_messages(js) == before + 1, "the second publish was deduplicated"


async def test_a_stopping_relay_writes_its_lingering_marks(
    db: Database, js: JetStreamContext
) -> None:
    relay = _relay(db, js, grace_s=3600, mark_linger_s=3600)
    row, _ = await _stage_one(db)
    stop = asyncio.Event()
    loop = asyncio.create_task(relay.run(stop, interval_s=0.05))
    await relay.send([row])
    await asyncio.sleep(0.2)
    assert await _sent_at(db, row.id) is None, "lingering for an hour"
    stop.set()
    await asyncio.wait_for(loop, 5)
    assert await _sent_at(db, row.id) is not None


async def test_failed_fast_path_leaves_the_row_for_the_background_drain(
    db: Database, js: JetStreamContext
) -> None:
    async def broken(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        raise ConnectionError("NATS is down")

    await _relay(db, js).drain()  # rows other tests left unsent must not blur the count
    row, envelope = await _stage_one(db)
    await OutboxRelay(db, broken, grace_s=0).send([row])
    assert await _sent_at(db, row.id) is None

    before = await _stream_messages(js)
    assert await _relay(db, js).drain() >= 1
    assert await _sent_at(db, row.id) is not None
    assert await _stream_messages(js) == before + 1
    last = await js.get_last_msg("PUBLISH", f"{PublishRequested.subject}.normal")
    assert last.headers is not None and last.headers["Nats-Msg-Id"] == str(envelope.id)


async def test_a_row_published_twice_is_stored_once(db: Database, js: JetStreamContext) -> None:
    """The relay died after publishing and before marking the row sent: it goes out again."""
    relay = _relay(db, js)
    await relay.drain()
    row, _ = await _stage_one(db)
    before = await _stream_messages(js)
    await js.publish(row.subject, row.payload, headers=dict(row.headers))  # then the crash
    assert await _sent_at(db, row.id) is None
    assert await relay.drain() == 1
    assert await _sent_at(db, row.id) is not None
    assert await _stream_messages(js) == before + 1


async def test_a_row_that_cannot_be_published_does_not_hold_back_the_others(
    db: Database, js: JetStreamContext
) -> None:
    relay = _relay(db, js)
    await relay.drain()
    async with db.transaction() as session:
        session.add(
            OutboxMessage(id=uuid.uuid4(), subject="herald.nostream.x", payload=b"{}", headers={})
        )
    good, _ = await _stage_one(db)
    assert await relay.drain() == 1
    assert await _sent_at(db, good.id) is not None
    async with db.transaction() as session:
        bad = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.subject == "herald.nostream.x", OutboxMessage.sent_at.is_(None)
            )
        )
    assert bad is not None
    assert bad.publish_failures == 1
    assert bad.last_error
    assert bad.claimed_until is not None, "retried later, with a backoff"
    async with db.transaction() as session:
        await session.delete(bad)


async def test_the_fast_path_gives_up_quickly_and_leaves_the_row(db: Database) -> None:
    async def hangs(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        await asyncio.sleep(60)

    row, _ = await _stage_one(db)
    started = time.monotonic()
    await OutboxRelay(db, hangs, fast_timeout_s=0.2).send([row])
    assert time.monotonic() - started < 2
    assert await _sent_at(db, row.id) is None


async def test_drain_respects_the_grace_period(db: Database, js: JetStreamContext) -> None:
    async def never(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        pytest.fail("a row younger than the grace period belongs to its fast path")

    await _relay(db, js).drain()  # leave nothing from earlier tests
    row, _ = await _stage_one(db)
    assert await OutboxRelay(db, never, grace_s=3600).drain() == 0
    assert await _sent_at(db, row.id) is None
    await _relay(db, js).drain()


async def test_an_idle_drain_reads_once_and_claims_nothing(
    db: Database, js: JetStreamContext
) -> None:
    """With nothing left unsent past the grace, a background tick is one read (no claiming
    transaction); a row that is due is then found by the next tick."""
    relay = _relay(db, js, grace_s=0)
    await relay.drain()  # whatever other tests left
    with recorded_statements(db) as statements:
        assert await relay.drain() == 0
    assert one_read(statements), statements
    row, _ = await _stage_one(db)
    assert await relay.drain() == 1
    assert await _sent_at(db, row.id) is not None


def _oldest_unsent_s() -> float:
    return REGISTRY.get_sample_value("herald_outbox_oldest_unsent_seconds") or 0.0


async def test_a_row_waiting_out_a_publish_backoff_counts_as_the_oldest_unsent(
    db: Database, js: JetStreamContext
) -> None:
    """JetStream refuses a row: it waits out a backoff, claimed by no one, and the gauge the
    lag alert reads keeps counting its age (it read 0 between ticks while NATS was away)."""

    async def refused(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        raise ConnectionError("nats: no servers available")

    await _relay(db, js).drain()  # whatever other tests left
    row, _ = await _stage_one(db)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    async with db.transaction() as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row.id).values(created_at=an_hour_ago)
        )
    try:
        failing = OutboxRelay(db, refused, grace_s=0)
        assert await failing.drain() == 0  # claimed, refused, left to its backoff
        assert await failing.drain() == 0  # in its backoff: nothing is due
        assert _oldest_unsent_s() >= 3600
    finally:
        async with db.transaction() as session:  # sent, so that no later test meets it
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(sent_at=datetime.now(UTC))
            )
    await _relay(db, js).drain()
    assert _oldest_unsent_s() < 3600
