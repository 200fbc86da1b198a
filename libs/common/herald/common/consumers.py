"""The one place where a handler's outcome becomes ack, nak(delay) or term.

Handlers return normally (ack), raise ``RetryLater`` (nak with its delay), raise
``PoisonMessage`` or fail to parse their envelope (term, logged as an error), or raise anything
else (nak with a backoff that grows with the delivery count; JetStream's MaxDeliver bounds it).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from faststream import AckPolicy
from faststream._internal.context import Context
from faststream.nats import JStream, NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from faststream.nats.message import NatsMessage as Delivery
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from herald.common.errors import PoisonMessage, RetryLater
from herald.common.events.envelope import Envelope, UnknownSchemaError
from herald.common.settings import HeraldSettings
from herald.common.streams import ConsumerSpec, consumer_config

log = structlog.get_logger(__name__)

HANDLED = Counter("herald_messages_handled_total", "Messages settled", ["consumer", "outcome"])
HANDLE_SECONDS = Histogram("herald_message_handle_seconds", "Time spent in a handler", ["consumer"])
BATCH_SECONDS = Histogram(
    "herald_message_batch_seconds", "Time spent on a fetched batch (batch consumers)", ["consumer"]
)
BATCHES_UNDONE = Counter(
    "herald_message_batches_settled_one_by_one_total",
    "Batches whose handler failed, so each message was settled on its own",
    ["consumer"],
)


class _OnTheLoop(Context):
    """FastStream's ``Context`` resolved on the event loop. Its ``use`` is a plain function,
    and FastDepends runs plain functions in a worker thread: a thread hop (lock, wake-up,
    switch) for every message, about a third of a no-op consumer's CPU (measured)."""

    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return super().use(**kwargs)


NatsMessage = Annotated[Delivery, _OnTheLoop("message")]
"""The delivered message, as a handler parameter (for ``faststream.nats.NatsMessage``)."""

Batch = Annotated[NatsBatchMessage, _OnTheLoop("message")]
"""A fetched batch, as a handler parameter (``subscribe_batch``)."""


@dataclass(frozen=True)
class Received:
    """A message of a batch, parsed: its envelope and its headers (``traceparent``: a batch
    handler continues each message's trace where it acts on it)."""

    envelope: Envelope
    headers: Mapping[str, str]


Handler = Callable[[Envelope, NatsMessage], Awaitable[None]]
BatchHandler = Callable[[list[Received]], Awaitable[None]]


def redelivery_delay(delivered: int, *, base_s: float = 0.5, cap_s: float = 30.0) -> float:
    """Backoff before redelivering a message whose handler crashed (pure)."""
    return float(min(cap_s, base_s * 2 ** min(max(0, delivered - 1), 64)))


MAX_NAK_DELAY_S = 300.0
"""Longer waits are not kept in JetStream (they would hold MaxAckPending for their whole
length): the message is acked, and the database's due time brings the work back through the
recovery sweeps. Every ``RetryLater`` in Herald has such a due time behind it."""


def settled(
    consumer: str, max_nak_delay_s: float = MAX_NAK_DELAY_S
) -> Callable[[Handler], Callable[[NatsMessage], Awaitable[None]]]:
    """Wrap ``handler(envelope, message)`` so its outcome settles the JetStream message."""

    def decorate(handler: Handler) -> Callable[[NatsMessage], Awaitable[None]]:
        # No functools.wraps: FastStream reads the signature, and it must see only ``message``.
        async def run(message: NatsMessage) -> None:
            started = time.perf_counter()
            outcome = await _settle(consumer, handler, message, max_nak_delay_s)
            HANDLED.labels(consumer, outcome).inc()
            HANDLE_SECONDS.labels(consumer).observe(time.perf_counter() - started)

        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        return run

    return decorate


def settled_batch(
    consumer: str, one: Handler, max_nak_delay_s: float = MAX_NAK_DELAY_S
) -> Callable[[BatchHandler], Callable[[Batch], Awaitable[None]]]:
    """Wrap ``many(received)``, which handles a fetched batch at once: when it returns, every
    message is acked; when it raises, each message is settled on its own by ``one``, as
    ``settled`` does, so one bad message never holds back, or fails, the others. ``many`` and
    ``one`` must be idempotent together (a failed ``many`` may have done part of its work).
    Envelopes that do not parse are poison, settled before ``many`` runs."""

    def decorate(many: BatchHandler) -> Callable[[Batch], Awaitable[None]]:
        async def run(batch: Batch) -> None:
            started = time.perf_counter()
            parsed: list[tuple[Delivery, Received]] = []
            for raw in batch.raw_message:
                message = Delivery(raw_message=raw, body=raw.data, headers=raw.header or {})
                try:
                    envelope = Envelope.model_validate_json(message.body)
                except ValidationError as error:
                    HANDLED.labels(consumer, await _poison(consumer, message, error)).inc()
                    continue
                parsed.append((message, Received(envelope, message.headers)))
            if parsed:
                await _settle_batch(consumer, one, many, parsed, max_nak_delay_s)
            BATCH_SECONDS.labels(consumer).observe(time.perf_counter() - started)

        run.__name__ = many.__name__
        run.__doc__ = many.__doc__
        return run

    return decorate


async def _settle_batch(
    consumer: str,
    one: Handler,
    many: BatchHandler,
    parsed: list[tuple[Delivery, Received]],
    max_nak_delay_s: float,
) -> None:
    try:
        await many([received for _, received in parsed])
    except Exception:  # not swallowed: logged, counted, and each message gets its own try
        log.exception("batch.settled_one_by_one", consumer=consumer, size=len(parsed))
        BATCHES_UNDONE.labels(consumer).inc()
        await _settle_each(consumer, one, [message for message, _ in parsed], max_nak_delay_s)
        return
    for message, _ in parsed:
        await message.ack()
    HANDLED.labels(consumer, "ack").inc(len(parsed))


async def _settle_each(
    consumer: str, one: Handler, messages: list[Delivery], max_nak_delay_s: float
) -> None:
    """Each message on its own; after the first that crashes (an outage, most likely), the rest
    are nak'd at once with the same backoff, not tried one after another past their ack wait."""
    for n, message in enumerate(messages):
        outcome = await _settle(consumer, one, message, max_nak_delay_s)
        HANDLED.labels(consumer, outcome).inc()
        if outcome == "error":
            for rest in messages[n + 1 :]:
                await rest.nack(delay=redelivery_delay(rest.raw_message.metadata.num_delivered))
                HANDLED.labels(consumer, "error").inc()
            return


async def _poison(consumer: str, message: NatsMessage, error: Exception) -> str:
    log.error(
        "message.poison", consumer=consumer, subject=message.raw_message.subject, error=str(error)
    )
    await message.reject()
    return "poison"


async def _settle(
    consumer: str, handler: Handler, message: NatsMessage, max_nak_delay_s: float
) -> str:
    try:
        envelope = Envelope.model_validate_json(message.body)
    except ValidationError as error:  # only the envelope: a handler's own bug is not poison
        return await _poison(consumer, message, error)
    try:
        await handler(envelope, message)
    except RetryLater as retry:
        if retry.delay_s > max_nak_delay_s:
            log.info(
                "message.deferred_to_database",
                consumer=consumer,
                reason=retry.reason,
                delay_s=round(retry.delay_s, 1),
            )
            await message.ack()
            return "deferred"
        await message.nack(delay=retry.delay_s)
        return "retry"
    except (PoisonMessage, UnknownSchemaError) as error:
        return await _poison(consumer, message, error)
    except Exception as error:  # a bug or an outage: redeliver later, never drop
        delivered = message.raw_message.metadata.num_delivered
        log.exception(
            "message.handler_failed", consumer=consumer, delivered=delivered, error=str(error)
        )
        await message.nack(delay=redelivery_delay(delivered))
        return "error"
    await message.ack()
    return "ack"


def subscribe(
    router: NatsRouter,
    spec: ConsumerSpec,
    settings: HeraldSettings,
    *,
    workers: int = 1,
    fetch_batch: int = 1,
) -> Callable[[Callable[[NatsMessage], Awaitable[None]]], object]:
    """Register a handler on ``spec``'s durable pull consumer with explicit, manual acks.

    The stream is declared by ``ensure_streams``; the consumer's tunables come from settings.
    """
    return router.subscriber(
        spec.filter_subject,
        stream=JStream(spec.stream.name, declare=False),
        durable=spec.durable,
        pull_sub=PullSub(batch_size=fetch_batch, timeout=1.0),
        config=consumer_config(spec, settings),
        max_workers=workers,
        ack_policy=AckPolicy.MANUAL,
    )


def subscribe_batch(
    router: NatsRouter, spec: ConsumerSpec, settings: HeraldSettings, *, size: int, wait_s: float
) -> Callable[[Callable[[Batch], Awaitable[None]]], object]:
    """``subscribe`` for a handler of whole batches (``settled_batch``): up to ``size``
    messages, fetched for up to ``wait_s`` (a message that comes alone waits that long)."""
    return router.subscriber(
        spec.filter_subject,
        stream=JStream(spec.stream.name, declare=False),
        durable=spec.durable,
        pull_sub=PullSub(batch_size=size, timeout=wait_s, batch=True),
        config=consumer_config(spec, settings),
        ack_policy=AckPolicy.MANUAL,
    )
