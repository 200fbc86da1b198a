"""Settling messages against a real nats-server: ack, nak with delay, term for poison."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import anyio
import pytest
from faststream.nats import NatsBroker, NatsRouter
from nats.js import JetStreamContext
from structlog.testing import capture_logs

from herald.common.consumers import (
    Received,
    settled,
    settled_batch,
    subscribe,
    subscribe_batch,
)
from herald.common.errors import RetryLater
from herald.common.events import Envelope, PublishRequested
from herald.common.settings import HeraldSettings
from herald.common.streams import SYSTEM, ConsumerSpec

Handler = Callable[[Envelope, object], Awaitable[None]]


@pytest.fixture
def subject() -> str:
    return f"herald.system.test.{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def _run(
    nats_url: str, settings: HeraldSettings, spec: ConsumerSpec, handler: Handler
) -> AsyncIterator[None]:
    router = NatsRouter()
    subscribe(router, spec, settings)(settled(spec.durable)(handler))
    async with _serving(nats_url, router):
        yield


@asynccontextmanager
async def _serving(nats_url: str, router: NatsRouter) -> AsyncIterator[None]:
    broker = NatsBroker(nats_url, logger=None)
    broker.include_router(router)
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


def _envelope() -> bytes:
    command = PublishRequested(job_id=uuid.uuid4())
    return Envelope.wrap(
        command, tenant_id=None, subject_id=command.job_id, now=datetime.now(UTC)
    ).to_json()


async def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_crashed_handler_gets_the_message_again(
    nats_url: str, settings: HeraldSettings, js: JetStreamContext, subject: str
) -> None:
    spec = ConsumerSpec(f"test-{subject.rsplit('.', 1)[1]}", SYSTEM, subject)
    calls: list[float] = []

    async def flaky(envelope: Envelope, message: object) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("database went away")

    async with _run(nats_url, settings, spec, flaky):
        await js.publish(subject, _envelope())
        await _wait_for(lambda: len(calls) == 2)
        await asyncio.sleep(0.3)
        info = await js.consumer_info(SYSTEM.name, spec.durable)
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.45, "redelivered after the backoff, not at once"
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_retry_later_redelivers_after_its_delay(
    nats_url: str, settings: HeraldSettings, js: JetStreamContext, subject: str
) -> None:
    spec = ConsumerSpec(f"test-{subject.rsplit('.', 1)[1]}", SYSTEM, subject)
    calls: list[float] = []

    async def later(envelope: Envelope, message: object) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RetryLater(1.0, "not due yet")

    async with _run(nats_url, settings, spec, later):
        await js.publish(subject, _envelope())
        await _wait_for(lambda: len(calls) == 2)
    assert calls[1] - calls[0] >= 0.95


async def test_poison_message_is_terminated_not_redelivered(
    nats_url: str, settings: HeraldSettings, js: JetStreamContext, subject: str
) -> None:
    spec = ConsumerSpec(f"test-{subject.rsplit('.', 1)[1]}", SYSTEM, subject)
    calls: list[Envelope] = []

    async def record(envelope: Envelope, message: object) -> None:
        calls.append(envelope)

    async with _run(nats_url, settings, spec, record):
        await js.publish(subject, b"{not json")
        await js.publish(subject, _envelope())
        await _wait_for(lambda: len(calls) == 1)
        await asyncio.sleep(1.0)  # longer than any redelivery backoff of a nak
        info = await js.consumer_info(SYSTEM.name, spec.durable)
    assert len(calls) == 1, "only the readable message reaches the handler"
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
    assert info.delivered.consumer_seq == 2


async def test_a_handler_bug_is_redelivered_but_bad_data_is_terminated(
    nats_url: str, settings: HeraldSettings, js: JetStreamContext, subject: str
) -> None:
    spec = ConsumerSpec(f"test-{subject.rsplit('.', 1)[1]}", SYSTEM, subject)
    seen: list[str] = []

    async def handler(envelope: Envelope, message: object) -> None:
        seen.append(envelope.idempotency_key)
        if envelope.idempotency_key == "bug" and seen.count("bug") == 1:
            PublishRequested.model_validate({"job_id": "not-a-uuid"})  # our bug, not the data's
        envelope.payload(PublishRequested)

    good = Envelope.model_validate_json(_envelope())
    bug = good.model_copy(update={"idempotency_key": "bug"})
    bad_data = good.model_copy(update={"idempotency_key": "bad", "data": {"job_id": 7}})
    async with _run(nats_url, settings, spec, handler):
        for envelope in (bug, bad_data):
            await js.publish(subject, envelope.to_json())
        await _wait_for(lambda: seen.count("bug") == 2)
        await asyncio.sleep(1.0)
        info = await js.consumer_info(SYSTEM.name, spec.durable)
    assert seen.count("bad") == 1, "data that does not match its schema is terminated"
    assert info.num_ack_pending == 0


async def test_a_long_wait_is_left_to_the_database_not_kept_in_jetstream(
    nats_url: str, settings: HeraldSettings, js: JetStreamContext, subject: str
) -> None:
    spec = ConsumerSpec(f"test-{subject.rsplit('.', 1)[1]}", SYSTEM, subject)
    calls: list[float] = []

    async def far_future(envelope: Envelope, message: object) -> None:
        calls.append(time.monotonic())
        raise RetryLater(3600, "rate_limited")  # e.g. the channel's next slot is in an hour

    async with _run(nats_url, settings, spec, far_future):
        await js.publish(subject, _envelope())
        await _wait_for(lambda: len(calls) == 1)
        await asyncio.sleep(0.5)
        info = await js.consumer_info(SYSTEM.name, spec.durable)
    assert info.num_ack_pending == 0, "acked: nothing held in JetStream for an hour"
    assert info.num_redelivered == 0


async def test_a_message_is_handled_while_every_worker_thread_is_busy(
    nats_url: str, settings: HeraldSettings, js: JetStreamContext, subject: str
) -> None:
    """Handing the message to the handler takes no worker thread: with the pool's threads all
    taken (a slow sync call elsewhere, say), messages still flow. FastStream's own
    ``Context`` parameter took one for every message."""
    spec = ConsumerSpec(f"test-{subject.rsplit('.', 1)[1]}", SYSTEM, subject)
    handled: list[uuid.UUID] = []

    async def record(envelope: Envelope, message: object) -> None:
        handled.append(envelope.id)

    threads = anyio.to_thread.current_default_thread_limiter()
    capacity = threads.total_tokens
    threads.total_tokens = 1
    await threads.acquire()
    try:
        async with _run(nats_url, settings, spec, record):
            await js.publish(subject, _envelope())
            await _wait_for(lambda: len(handled) == 1, timeout=3.0)
    finally:
        threads.release()
        threads.total_tokens = capacity


@asynccontextmanager
async def _run_batch(
    nats_url: str,
    settings: HeraldSettings,
    spec: ConsumerSpec,
    one: Handler,
    many: Callable[[list[Received]], Awaitable[None]],
) -> AsyncIterator[None]:
    router = NatsRouter()
    subscribe_batch(router, spec, settings, size=10, wait_s=0.5)(
        settled_batch(spec.durable, one)(many)
    )
    async with _serving(nats_url, router):
        yield


async def _not_one_by_one(envelope: Envelope, message: object) -> None:
    raise AssertionError("the batch handler took this message")


async def test_a_batch_is_handled_at_once_and_acked(
    nats_url: str, settings: HeraldSettings, js: JetStreamContext, subject: str
) -> None:
    spec = ConsumerSpec(f"test-{subject.rsplit('.', 1)[1]}", SYSTEM, subject)
    batches: list[list[uuid.UUID]] = []

    async def many(received: list[Received]) -> None:
        batches.append([r.envelope.id for r in received])

    sent = [Envelope.model_validate_json(_envelope()) for _ in range(5)]
    async with _run_batch(nats_url, settings, spec, _not_one_by_one, many):
        for envelope in sent:
            await js.publish(subject, envelope.to_json())
        await _wait_for(lambda: sum(map(len, batches)) == 5)
        await asyncio.sleep(0.3)
        info = await js.consumer_info(SYSTEM.name, spec.durable)
    assert sorted(id_ for batch in batches for id_ in batch) == sorted(e.id for e in sent)
    assert len(batches) < 5, "messages fetched together are handled together"
    assert info.num_ack_pending == 0 and info.num_redelivered == 0


async def test_a_failed_batch_is_settled_one_by_one(
    nats_url: str, settings: HeraldSettings, js: JetStreamContext, subject: str
) -> None:
    """The batch handler fails (the database went away, say): each message then has its own
    try, so one that must wait is redelivered alone and the others are acked; a poison message
    among them is terminated before the batch handler sees it."""
    spec = ConsumerSpec(f"test-{subject.rsplit('.', 1)[1]}", SYSTEM, subject)
    sent = [Envelope.model_validate_json(_envelope()) for _ in range(3)]
    waits = sent[1].id
    singles: list[uuid.UUID] = []
    batches: list[list[uuid.UUID]] = []

    async def one(envelope: Envelope, message: object) -> None:
        singles.append(envelope.id)
        if envelope.id == waits and singles.count(waits) == 1:
            raise RetryLater(0.5, "not due yet")

    async def many(received: list[Received]) -> None:
        batches.append([r.envelope.id for r in received])
        if len(batches) == 1:
            raise ConnectionError("the database went away")

    async with _run_batch(nats_url, settings, spec, one, many):
        await js.publish(subject, b"{not json")
        for envelope in sent:
            await js.publish(subject, envelope.to_json())
        await _wait_for(lambda: len(batches) == 2)
        await asyncio.sleep(0.3)
        info = await js.consumer_info(SYSTEM.name, spec.durable)
    assert sorted(batches[0]) == sorted(e.id for e in sent), "the poison never reached it"
    assert sorted(singles) == sorted(e.id for e in sent)
    assert batches[1] == [waits], "only the message that had to wait came back"
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_after_a_crash_in_a_failed_batch_the_rest_wait_together(
    nats_url: str, settings: HeraldSettings, js: JetStreamContext, subject: str
) -> None:
    """An outage fails the batch, then the first message on its own: the others are nak'd
    with it at once (not each tried past its ack wait), and all come back together."""
    spec = ConsumerSpec(f"test-{subject.rsplit('.', 1)[1]}", SYSTEM, subject)
    sent = [Envelope.model_validate_json(_envelope()) for _ in range(3)]
    singles: list[uuid.UUID] = []
    batches: list[list[uuid.UUID]] = []

    async def one(envelope: Envelope, message: object) -> None:
        singles.append(envelope.id)
        raise ConnectionError("the database is still away")

    async def many(received: list[Received]) -> None:
        batches.append([r.envelope.id for r in received])
        if len(batches) == 1:
            raise ConnectionError("the database went away")

    with capture_logs():
        async with _run_batch(nats_url, settings, spec, one, many):
            for envelope in sent:
                await js.publish(subject, envelope.to_json())
            await _wait_for(lambda: len(batches) == 2)
            await asyncio.sleep(0.3)
            info = await js.consumer_info(SYSTEM.name, spec.durable)
    assert len(singles) == 1, "one message met the outage; the others did not queue behind it"
    assert sorted(batches[1]) == sorted(e.id for e in sent)
    assert info.num_ack_pending == 0 and info.num_pending == 0
