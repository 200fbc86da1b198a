"""JetStream streams and durable consumers, declared in code and created idempotently.

Their tunables (replicas, max age, duplicate window, ack wait, max deliver, max ack pending)
come from settings, not constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

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
STREAMS = (ASSETS, PUBLISH, JOBS, ALERTS, SYSTEM, DEAD_LETTERS)


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
        max_age=settings.stream_max_age_s,
        duplicate_window=settings.stream_duplicate_window_s,
    )


async def ensure_streams(js: JetStreamContext, settings: HeraldSettings) -> None:
    """Create each stream, or bring an existing one to the configured settings."""
    for spec in STREAMS:
        config = stream_config(spec, settings)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
            log.info("stream.created", stream=spec.name)
            continue
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
        await js.add_consumer(spec.stream.name, consumer_config(spec, settings))
        log.info("consumer.ready", stream=spec.stream.name, consumer=spec.durable)


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
