"""Report whether JetStream fsyncs every message: the durability every service depends on.

nats-server tells only on its monitoring port (``/varz``), so the setting is logged when
``HERALD_NATS_MONITOR_URL`` names that port (``herald dev`` sets it).
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)


def sync_always(varz: dict[str, Any]) -> bool:
    """Whether ``/varz`` says JetStream fsyncs every message (absent means the 2-min default)."""
    config = varz.get("jetstream", {}).get("config", {})
    return bool(config.get("sync_always", False))


async def log_sync_setting(monitor_url: str) -> bool | None:
    """Log JetStream's effective sync setting; None when it cannot be known."""
    if not monitor_url:
        log.info("jetstream.sync", sync_always="unknown", hint="set HERALD_NATS_MONITOR_URL")
        return None
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            varz = (await client.get(f"{monitor_url.rstrip('/')}/varz")).json()
    except (httpx.HTTPError, ValueError) as error:
        log.warning("jetstream.sync", sync_always="unknown", error=repr(error))
        return None
    value = sync_always(varz)
    log.info(
        "jetstream.sync",
        sync_always=value,
        durability="every message" if value else "periodic fsync (nats default)",
    )
    return value
