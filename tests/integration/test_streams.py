"""Streams and consumers follow settings on every start, against a real nats-server."""

from __future__ import annotations

import uuid

from nats.js import JetStreamContext

from herald.common.settings import HeraldSettings
from herald.common.streams import (
    STREAMS,
    SYSTEM,
    ConsumerSpec,
    ensure_consumers,
    ensure_streams,
)


async def test_streams_exist_with_the_configured_duplicate_window(
    js: JetStreamContext, settings: HeraldSettings
) -> None:
    await ensure_streams(js, settings)  # a second start changes nothing and does not fail
    for spec in STREAMS:
        info = await js.stream_info(spec.name)
        assert info.config.subjects == list(spec.subjects)
        assert info.config.duplicate_window == settings.stream_duplicate_window_s


async def test_a_restart_with_new_settings_updates_stream_and_consumer(
    js: JetStreamContext, settings: HeraldSettings
) -> None:
    spec = ConsumerSpec(f"test-{uuid.uuid4().hex[:8]}", SYSTEM, "herald.system.test.update")
    await ensure_consumers(js, settings, [spec])
    before = await js.consumer_info(SYSTEM.name, spec.durable)
    assert before.config.ack_wait == settings.consumer_ack_wait_s

    changed = settings.model_copy(
        update={"consumer_ack_wait_s": 45.0, "consumer_max_deliver": 7, "stream_max_age_s": 3600.0}
    )
    await ensure_streams(js, changed)
    await ensure_consumers(js, changed, [spec])
    after = await js.consumer_info(SYSTEM.name, spec.durable)
    assert (after.config.ack_wait, after.config.max_deliver) == (45.0, 7)
    assert (await js.stream_info(SYSTEM.name)).config.max_age == 3600.0
    await ensure_streams(js, settings)  # leave the session's streams as they were
