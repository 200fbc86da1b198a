"""Wiring of the alerter: settings → runtime → routers."""

from __future__ import annotations

import asyncio

from herald.alerter.handlers import build_router
from herald.alerter.settings import AlerterSettings
from herald.common.runtime import build_runtime, serve_worker
from herald.common.settings import load_settings
from herald.common.streams import ALERTER_PUBLISH_FAILED, ALERTER_PUBLISH_SUCCEEDED


async def run(settings: AlerterSettings) -> None:
    runtime = build_runtime(settings)
    await serve_worker(
        runtime,
        [build_router(runtime, settings)],
        [ALERTER_PUBLISH_FAILED, ALERTER_PUBLISH_SUCCEEDED],
    )


def main() -> None:
    asyncio.run(run(load_settings(AlerterSettings)))


if __name__ == "__main__":
    main()
