"""Wiring of the alerter: settings → runtime → use cases → routers and loops."""

from __future__ import annotations

import asyncio

from herald.alerter.deliveries import build_delivery_sender
from herald.alerter.failures import Alerting
from herald.alerter.handlers import build_router
from herald.alerter.notifier import Notifier
from herald.alerter.settings import AlerterSettings
from herald.alerter.threshold_rules import run_rules
from herald.common.runtime import Runtime, build_runtime, serve_worker
from herald.common.settings import load_settings
from herald.common.streams import (
    ALERTER_NOTIFY,
    ALERTER_PUBLISH_FAILED,
    ALERTER_PUBLISH_SUCCEEDED,
    ALERTER_SYSTEM,
)


async def run(settings: AlerterSettings) -> None:
    runtime = build_runtime(settings)
    policy = settings.alert_policy()
    alerting = Alerting(runtime.db, runtime.relay, policy)
    sender = build_delivery_sender(runtime, settings)
    notifier = Notifier(runtime.db, sender.wake)

    async def rules(rt: Runtime) -> None:
        await run_rules(
            rt.db,
            rt.relay,
            policy,
            settings.alert_heartbeat_forget_s,
            settings.alert_rules_interval_s,
            rt.stop,
        )

    await serve_worker(
        runtime,
        [build_router(alerting, notifier, settings)],
        [ALERTER_PUBLISH_FAILED, ALERTER_PUBLISH_SUCCEEDED, ALERTER_SYSTEM, ALERTER_NOTIFY],
        loops=[rules, sender.deliver_webhooks],
    )


def main() -> None:
    asyncio.run(run(load_settings(AlerterSettings)))


if __name__ == "__main__":
    main()
