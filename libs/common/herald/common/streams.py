"""JetStream streams and durable consumers, declared in code and created idempotently.

Their tunables (replicas, max age, duplicate window, ack wait, max deliver, max ack pending)
come from settings, not constants.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import (
    BadRequestError,
    NoStreamResponseError,
    NotFoundError,
    ServiceUnavailableError,
)

from herald.common.settings import HeraldSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    description: str


ASSETS = StreamSpec("ASSETS", ("herald.assets.>",), "asset lifecycle events")
PUBLISH = StreamSpec("PUBLISH", ("herald.publish.>",), "publish commands and outcomes")
ALERTS = StreamSpec("ALERTS", ("herald.alerts.>",), "alert lifecycle events")
SYSTEM = StreamSpec("SYSTEM", ("herald.system.>",), "service and infrastructure events")
JOBS = StreamSpec("JOBS", ("herald.jobs.>",), "user commands on jobs: cancel, retry")
DEAD_LETTERS = StreamSpec(
    "DEAD_LETTERS",
    (
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>",
        "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>",
    ),
    "JetStream's advisories of messages that exhausted MaxDeliver or were terminated",
)
CHANGES = StreamSpec(
    "CHANGES",
    ("herald.changes.>",),
    "job and alert changes per tenant (herald.changes.<tenant>.jobs|alerts): GET /v1/events",
)
STREAMS = (ASSETS, PUBLISH, JOBS, ALERTS, SYSTEM, DEAD_LETTERS, CHANGES)


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer: one per (service, subject); replicas share it."""

    durable: str
    stream: StreamSpec
    filter_subject: str


def stream_config(spec: StreamSpec, settings: HeraldSettings) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        max_age=max_age_of(spec, settings),
        duplicate_window=settings.stream_duplicate_window_s,
    )


def max_age_of(spec: StreamSpec, settings: HeraldSettings) -> float:
    """CHANGES keeps only as far back as a live-update client may resume; the rest keep
    ``stream_max_age_s``."""
    return settings.changes_max_age_s if spec == CHANGES else settings.stream_max_age_s


TRANSIENT = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    ServiceUnavailableError,
    NoStreamResponseError,
)
"""What a cluster answers while it elects leaders or places a new replicated stream."""
SETUP_TIMEOUT_S = 120.0


def setup_retry_delay(tries: int, *, base_s: float = 0.2, cap_s: float = 5.0) -> float:
    """Backoff between tries of a stream or consumer declaration (pure)."""
    return float(min(cap_s, base_s * 2 ** min(tries, 16)))


async def _declared(what: str, declare: Callable[[], Awaitable[None]]) -> None:
    """Retry a declaration through a cluster's transient refusals (several services declare
    the same streams at once; a replicated stream takes a moment to place)."""
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    tries = 0
    while True:
        try:
            await declare()
            return
        except TRANSIENT as error:
            if time.monotonic() > deadline:
                raise
            delay = setup_retry_delay(tries)
            log.warning("jetstream.setup_retry", what=what, error=repr(error), delay_s=delay)
            tries += 1
            await asyncio.sleep(delay)


async def ensure_streams(js: JetStreamContext, settings: HeraldSettings) -> None:
    """Create each stream, or bring an existing one to the configured settings."""
    for spec in STREAMS:
        await _declared(f"stream {spec.name}", partial(_ensure_stream, js, spec, settings))


async def _ensure_stream(js: JetStreamContext, spec: StreamSpec, settings: HeraldSettings) -> None:
    config = stream_config(spec, settings)
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            log.info("stream.created", stream=spec.name)
            return
        except BadRequestError:  # another service created it meanwhile: update it below
            await js.stream_info(spec.name)
    try:
        await js.update_stream(config)
    except BadRequestError as error:  # e.g. replicas cannot change on a single node
        log.warning("stream.update_refused", stream=spec.name, error=str(error))


PUBLISHER_REQUESTS = {
    priority: ConsumerSpec(
        f"publisher-requested-{priority}", PUBLISH, f"herald.publish.requested.{priority}"
    )
    for priority in ("high", "normal", "low")
}
"""One durable consumer per priority class; the publisher admits them by priority."""
ALERTER_PUBLISH_FAILED = ConsumerSpec("alerter-publish-failed", PUBLISH, "herald.publish.failed")
ALERTER_PUBLISH_SUCCEEDED = ConsumerSpec(
    "alerter-publish-succeeded", PUBLISH, "herald.publish.succeeded"
)
ALERTER_SYSTEM = ConsumerSpec("alerter-system", SYSTEM, "herald.system.>")
"""channel.auth_failed and system.condition reports become alerts."""
ALERTER_NOTIFY = ConsumerSpec("alerter-notify", ALERTS, "herald.alerts.>")
"""alert.raised / escalated / resolved → deliveries to the tenant's webhook endpoints."""


def consumer_config(spec: ConsumerSpec, settings: HeraldSettings) -> ConsumerConfig:
    """A durable pull consumer with explicit acks, tuned by settings."""
    return ConsumerConfig(
        durable_name=spec.durable,
        filter_subject=spec.filter_subject,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.consumer_ack_wait_s,
        max_deliver=settings.consumer_max_deliver,
        max_ack_pending=settings.consumer_max_ack_pending,
    )


async def ensure_consumers(
    js: JetStreamContext, settings: HeraldSettings, specs: Sequence[ConsumerSpec]
) -> None:
    """Create each durable consumer, or bring an existing one to the configured settings."""
    for spec in specs:
        config = consumer_config(spec, settings)
        await _declared(
            f"consumer {spec.durable}", partial(_add_consumer, js, spec.stream.name, config)
        )
        log.info("consumer.ready", stream=spec.stream.name, consumer=spec.durable)


async def _add_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    await js.add_consumer(stream, config)
    # The subscriber's own start asks for the consumer's info once, without retrying: ask
    # here first, under the retries, so that a cluster still electing the consumer's leader
    # delays the start instead of failing it (seen: "nats: timeout" in a 3-node start-up).
    await js.consumer_info(stream, config.durable_name or "")


RECOVERY_DEAD_LETTERS = ConsumerSpec(
    "recovery-dead-letters", DEAD_LETTERS, "$JS.EVENT.ADVISORY.CONSUMER.>"
)
"""The recovery service turns every dead-lettered message into a failed job and an alert."""

ALL_CONSUMERS = (
    *PUBLISHER_REQUESTS.values(),
    ALERTER_PUBLISH_FAILED,
    ALERTER_PUBLISH_SUCCEEDED,
    ALERTER_SYSTEM,
    ALERTER_NOTIFY,
    RECOVERY_DEAD_LETTERS,
)
"""Every durable consumer of the fleet: the recovery service reports their lag."""
