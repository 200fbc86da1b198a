"""Thin handlers of the recovery service."""

from __future__ import annotations

import structlog
from faststream.nats import NatsRouter

from herald.common.consumers import NatsMessage, redelivery_delay, subscribe
from herald.common.runtime import Runtime
from herald.common.streams import RECOVERY_DEAD_LETTERS
from herald.recovery.dead_letters import dead_letter
from herald.recovery.domain.advisories import parse_advisory
from herald.recovery.settings import RecoverySettings

log = structlog.get_logger(__name__)


def build_router(runtime: Runtime, settings: RecoverySettings) -> NatsRouter:
    router = NatsRouter()

    @subscribe(router, RECOVERY_DEAD_LETTERS, settings)
    async def on_advisory(message: NatsMessage) -> None:
        advisory = parse_advisory(message.body)
        try:
            if advisory is not None:
                await dead_letter(runtime, advisory)
        except Exception:  # the database may be down: the advisory waits, it is not lost
            log.exception("dead_letter.failed")
            await message.nack(delay=redelivery_delay(message.raw_message.metadata.num_delivered))
            return
        await message.ack()

    return router
