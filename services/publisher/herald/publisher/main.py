"""Wiring of the publisher: settings → runtime (broker, database, relay) → adapters → routers."""

from __future__ import annotations

import asyncio

import httpx

from herald.common.credentials import CredentialBox
from herald.common.runtime import build_runtime, serve_worker
from herald.common.settings import load_settings
from herald.common.streams import PUBLISHER_REQUESTS
from herald.publisher.adapters.platforms.base import PlatformAdapter
from herald.publisher.adapters.platforms.mastodon import MastodonAdapter
from herald.publisher.adapters.platforms.sandbox import SandboxAdapter
from herald.publisher.claims import Claims
from herald.publisher.execution import Executor
from herald.publisher.gate import PriorityGate
from herald.publisher.handlers import build_router
from herald.publisher.settings import PublisherSettings


async def run(settings: PublisherSettings) -> None:
    runtime = build_runtime(settings)
    limits = httpx.Limits(max_connections=settings.concurrency * 2)
    async with httpx.AsyncClient(timeout=settings.platform_timeout_s, limits=limits) as client:
        adapters: dict[str, PlatformAdapter] = {
            "sandbox": SandboxAdapter(settings.sandbox_url, client),
            "mastodon": MastodonAdapter(
                client, allow_private=settings.webhook_allow_private_targets
            ),
        }
        box = CredentialBox.from_setting(settings.credential_keys, settings.credential_active_key)
        claims = Claims(runtime, settings, adapters)
        executor = Executor(runtime, settings, adapters, box, claims)
        gate = PriorityGate(settings.concurrency, settings.priority_max_wait_s)
        router = build_router(settings, executor, gate)
        await serve_worker(runtime, [router], list(PUBLISHER_REQUESTS.values()))


def main() -> None:
    asyncio.run(run(load_settings(PublisherSettings)))


if __name__ == "__main__":
    main()
