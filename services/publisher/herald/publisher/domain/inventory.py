"""When a signage account's inventory (screens, playlists) is read again. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta


def sync_due(attempted_at: datetime | None, now: datetime, interval: timedelta) -> bool:
    """Never tried, or last tried (whatever came of it) ``interval`` ago or more."""
    return attempted_at is None or now - attempted_at >= interval
