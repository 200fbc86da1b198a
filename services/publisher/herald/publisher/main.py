"""Wiring of the publisher: settings → runtime (broker, database, relay) → adapters → routers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import structlog

from herald.common.credentials import CredentialBox
from herald.common.oauth import oauth_clients
from herald.common.pacing import sleep_unless_stopped
from herald.common.runtime import Runtime, build_runtime, serve_worker
from herald.common.settings import load_settings
from herald.common.streams import PUBLISHER_REQUESTS
from herald.publisher.adapters.platforms.base import PlatformAdapter
from herald.publisher.adapters.platforms.google_business import GoogleBusinessAdapter
from herald.publisher.adapters.platforms.linkedin import LinkedInAdapter
from herald.publisher.adapters.platforms.mastodon import MastodonAdapter
from herald.publisher.adapters.platforms.sandbox import SandboxAdapter
from herald.publisher.adapters.platforms.webhook import WebhookAdapter
from herald.publisher.adapters.platforms.x import XAdapter
from herald.publisher.adapters.platforms.yodeck import YodeckAdapter
from herald.publisher.claims import Claims
from herald.publisher.execution import Executor
from herald.publisher.gate import PriorityGate
from herald.publisher.handlers import build_router
from herald.publisher.inventory_sync import InventorySync
from herald.publisher.named_locks import NamedLocks
from herald.publisher.settings import PublisherSettings
from herald.publisher.token_upkeep import TokenUpkeep
from herald.publisher.tokens import Tokens
from herald.publisher.verification import Verifier

log = structlog.get_logger(__name__)


async def run(settings: PublisherSettings) -> None:
    runtime = build_runtime(settings)
    limits = httpx.Limits(max_connections=settings.concurrency * 2)
    async with httpx.AsyncClient(timeout=settings.platform_timeout_s, limits=limits) as client:
        private = settings.webhook_allow_private_targets
        clients = oauth_clients(settings)
        adapters: dict[str, PlatformAdapter] = {
            "sandbox": SandboxAdapter(settings.sandbox_url, client),
            "mastodon": MastodonAdapter(client, allow_private=private),
            "google_business": GoogleBusinessAdapter(
                client,
                api_url=settings.google_api_url,
                oauth_client=clients["google_business"],
                allow_private=private,
            ),
            "x": XAdapter(
                client,
                api_url=settings.x_api_url,
                oauth_client=clients["x"],
                allow_private=private,
            ),
            "linkedin": LinkedInAdapter(
                client,
                api_url=settings.linkedin_api_url,
                oauth_client=clients["linkedin"],
                allow_private=private,
            ),
            "webhook": WebhookAdapter(client, allow_private=private),
            "yodeck": YodeckAdapter(
                client,
                NamedLocks(runtime.db, runtime.instance_id),
                api_url=settings.yodeck_api_url,
                allow_private=private,
            ),
        }
        box = CredentialBox.from_setting(settings.credential_keys, settings.credential_active_key)
        claims = Claims(runtime, settings, adapters)
        tokens = Tokens(runtime.db, box)
        executor = Executor(runtime, settings, adapters, box, claims, tokens)
        gate = PriorityGate(settings.concurrency, settings.priority_max_wait_s)
        verifier = Verifier(
            runtime.db, box, adapters, tokens, settings.platform_timeout_s, runtime.relay
        )
        router = build_router(settings, executor, gate, verifier)
        inventory = InventorySync(
            runtime.db,
            box,
            adapters,
            runtime.instance_id,
            interval=timedelta(seconds=settings.inventory_sync_interval_s),
            lock_ttl_s=settings.inventory_lock_ttl_s,
        )

        upkeep = TokenUpkeep(
            runtime.db,
            runtime.relay,
            box,
            adapters,
            tokens,
            settings.token_upkeep_policy(),
            interval_s=settings.token_upkeep_interval_s,
            batch_size=settings.token_upkeep_batch,
            concurrency=settings.token_upkeep_concurrency,
        )

        async def inventory_upkeep(rt: Runtime) -> None:
            while not await sleep_unless_stopped(rt.stop, inventory.tick_s):
                try:
                    await inventory.round()
                except Exception as error:  # tried again on the next tick
                    log.warning("inventory.round_failed", error=str(error))

        await serve_worker(
            runtime,
            [router],
            list(PUBLISHER_REQUESTS.values()),
            loops=[inventory_upkeep, upkeep.token_upkeep],
        )


def main() -> None:
    asyncio.run(run(load_settings(PublisherSettings)))


if __name__ == "__main__":
    main()
