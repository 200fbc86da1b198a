"""The periodic sync of signage accounts' screens and playlists into ``channel_inventories``.

Every publisher runs the loop; one sync per account runs at a time, under the lock
``inventory:{platform}:{channel}`` with an expiry, renewed after every page read. A publisher
that dies mid-sync leaves the lock to expire, and the next round's acquisition takes it over
(with a higher token). The result is written only while the lock is still ours (renewed in the
same transaction), so a stalled holder that lost it cannot overwrite a newer inventory.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from opentelemetry import trace
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common import locks
from herald.common.credentials import CredentialBox, Sealed
from herald.common.db.engine import Database
from herald.common.db.models import Channel, ChannelInventory
from herald.publisher import metrics
from herald.publisher.adapters.platforms.base import (
    Inventory,
    InventoryAdapter,
    PlatformAdapter,
    Target,
)
from herald.publisher.domain.errors import PublishError
from herald.publisher.domain.inventory import sync_due

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)


class LockLost(Exception):
    """Another publisher took the sync's lock over (ours had expired)."""


@dataclass(frozen=True)
class Account:
    channel_id: uuid.UUID
    tenant_id: uuid.UUID
    platform: str
    config: dict[str, Any]
    sealed: Sealed


@dataclass
class InventorySync:
    db: Database
    box: CredentialBox
    adapters: dict[str, PlatformAdapter]
    owner: str
    interval: timedelta = timedelta(minutes=5)
    lock_ttl_s: float = 60.0
    batch: int = 20

    @property
    def tick_s(self) -> float:
        """How often the loop looks for accounts due (a tenth of the interval, 0.5 s to 60 s)."""
        return min(60.0, max(0.5, self.interval.total_seconds() / 10))

    async def round(self) -> dict[str, int]:
        """Sync the accounts due; how many ended each way."""
        counts: dict[str, int] = {}
        for account in await self._due(datetime.now(UTC)):
            outcome = await self.sync(account)
            counts[outcome] = counts.get(outcome, 0) + 1
        if counts:
            log.info("inventory.round", **counts)
        return counts

    async def sync(self, account: Account) -> str:
        """``synced``, ``busy`` (another publisher has it), ``lost`` (the lock expired under
        us), or the failure's class (the previous inventory is kept, the error recorded)."""
        name = f"inventory:{account.platform}:{account.channel_id}"
        attributes = {
            "herald.platform": account.platform,
            "herald.channel_id": str(account.channel_id),
        }
        with tracer.start_as_current_span("inventory.sync", attributes=attributes):
            async with self.db.transaction() as session:
                held = await locks.acquire(session, name, self.owner, self.lock_ttl_s)
            if held is None:
                outcome = "busy"
            else:
                try:
                    outcome = await self._sync_held(account, held)
                finally:
                    async with self.db.transaction() as session:
                        await locks.release(session, held)
        metrics.INVENTORY_SYNCS.labels(account.platform, outcome).inc()
        log.info(
            "inventory.sync",
            channel_id=str(account.channel_id),
            platform=account.platform,
            outcome=outcome,
        )
        return outcome

    async def _sync_held(self, account: Account, held: locks.Held) -> str:
        adapter = self.adapters[account.platform]
        if not isinstance(adapter, InventoryAdapter):
            return "unsupported"

        async def renewed() -> None:
            async with self.db.transaction() as session:
                if await locks.renew(session, held, self.lock_ttl_s) is None:
                    raise LockLost(held.name)

        try:
            target = Target(account.config, self.box.open(account.sealed))
            found = await adapter.inventory(target, renewed)
        except LockLost:
            return "lost"
        except PublishError as error:
            await self._record(account, None, f"{error.code}: {error.message}"[:500])
            return error.error_class
        except Exception as error:  # one account's oddity (a retired key, a page that is not
            # JSON) is recorded, which moves its turn on, and never stops the others' syncs
            await self._record(account, None, f"error: {type(error).__name__}: {error}"[:500])
            return "error"
        async with self.db.transaction() as session:
            if await locks.renew(session, held, self.lock_ttl_s) is None:
                return "lost"
            await self._write(session, account, found, None)
        return "synced"

    async def _record(self, account: Account, found: Inventory | None, error: str) -> None:
        async with self.db.transaction() as session:
            await self._write(session, account, found, error)

    async def _write(
        self, session: AsyncSession, account: Account, found: Inventory | None, error: str | None
    ) -> None:
        now = func.now()
        values: dict[str, Any] = {"attempted_at": now, "error": error}
        if found is not None:
            values |= {"screens": found.screens, "playlists": found.playlists, "synced_at": now}
        statement = insert(ChannelInventory).values(
            channel_id=account.channel_id, tenant_id=account.tenant_id, **values
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[ChannelInventory.channel_id], set_=values
            )
        )

    async def _due(self, now: datetime) -> list[Account]:
        platforms = [p for p, a in self.adapters.items() if isinstance(a, InventoryAdapter)]
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(Channel, ChannelInventory.attempted_at)
                    .outerjoin(ChannelInventory, ChannelInventory.channel_id == Channel.id)
                    .where(
                        Channel.platform.in_(platforms),
                        Channel.auth_state == "ok",
                        Channel.credentials_ciphertext.is_not(None),
                    )
                    .order_by(ChannelInventory.attempted_at.asc().nulls_first())
                    .limit(self.batch)
                )
            ).all()
        return [
            Account(
                c.id,
                c.tenant_id,
                c.platform,
                dict(c.config),
                Sealed(c.credentials_key_id or "", c.credentials_ciphertext or b""),
            )
            for c, attempted_at in rows
            if sync_due(attempted_at, now, self.interval)
        ]
