"""``herald keys rotate``: re-seal every stored secret with the active credential key.

Channel credentials, webhook endpoint secrets (the current one and the one a secret rotation
keeps for a while) and stored Idempotency-Key responses are sealed by ``CredentialBox``, each
beside the id of its key. A value is opened with the key it names and sealed again with the
active one, in keyset batches: one transaction per batch, its rows locked (``FOR UPDATE``)
so that a service writing the same row waits a moment rather than losing its change. The
services keep running; a value already sealed with the active key is left alone, so a second
run re-seals nothing. A value sealed with a key the ring lacks is refused before anything
changes: dropping that key would have made it unreadable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.credentials import CredentialBox, CredentialKeyError, Sealed
from herald.common.db.engine import Database
from herald.common.db.models import Base

BATCH = 500


class RotationError(Exception):
    """Why the rotation stopped, in one line for the operator."""


@dataclass(frozen=True)
class SealedColumn:
    """A sealed value and its key id, in the columns ``ciphertext`` and ``key_id`` of the
    table ``table_name``, whose primary key (``key``) orders the batches."""

    label: str
    table_name: str
    ciphertext: str
    key_id: str
    key: tuple[str, ...] = ("id",)

    @property
    def table(self) -> Table:
        return Base.metadata.tables[self.table_name]

    def column(self, name: str) -> Column[Any]:
        return self.table.c[name]


SEALED = (
    SealedColumn("channel credentials", "channels", "credentials_ciphertext", "credentials_key_id"),
    SealedColumn("webhook secrets", "webhook_endpoints", "secret_ciphertext", "secret_key_id"),
    SealedColumn(
        "previous webhook secrets",
        "webhook_endpoints",
        "previous_secret_ciphertext",
        "previous_secret_key_id",
    ),
    SealedColumn(
        "stored idempotent responses",
        "idempotency_keys",
        "response_ciphertext",
        "response_key_id",
        ("api_key_id", "key"),
    ),
)

Census = dict[str, dict[str, int]]
"""label → key id → how many values are sealed with that key and not the active one."""


@dataclass(frozen=True)
class KeyRing:
    box: CredentialBox
    key_ids: frozenset[str]

    @classmethod
    def from_settings(cls, ring: str, active: str | None) -> KeyRing:
        try:
            box = CredentialBox.from_setting(ring, active)
        except CredentialKeyError as error:
            raise RotationError(f"HERALD_CREDENTIAL_KEYS is invalid: {error}") from None
        ids = (item.partition(":")[0].strip() for item in ring.split(","))
        return cls(box, frozenset(kid for kid in ids if kid))


async def rotate(
    db: Database,
    ring: KeyRing,
    say: Callable[[str], None],
    *,
    dry_run: bool = False,
    batch: int = BATCH,
) -> dict[str, int]:
    """Re-seal what is not sealed with the active key (or only count it, when dry); returns
    how many values of each kind. Raises ``RotationError`` before any change when a value
    names a key the ring lacks, and after the run when some are still on another key."""
    active = ring.box.active_key_id
    async with db.transaction() as session:
        before = await census(session, active)
    _refuse_unknown(before, ring.key_ids)
    totals = {label: sum(keys.values()) for label, keys in before.items()}
    if dry_run:
        return totals
    done: dict[str, int] = {}
    for sealed in SEALED:
        done[sealed.label] = await _reseal_all(db, ring.box, sealed, batch, say, totals)
    async with db.transaction() as session:
        left = sum(sum(keys.values()) for keys in (await census(session, active)).values())
    if left:
        raise RotationError(
            f"{left} value(s) were sealed with another key while this ran (does a service "
            f"still run with an old HERALD_CREDENTIAL_ACTIVE_KEY?): restart it and run again"
        )
    return done


async def census(session: AsyncSession, active: str) -> Census:
    counts: Census = {}
    for sealed in SEALED:
        key_id = sealed.column(sealed.key_id)
        rows = await session.execute(
            select(key_id, func.count())
            .where(key_id.is_not(None), key_id != active)
            .group_by(key_id)
            .order_by(key_id)
        )
        keys = counts.setdefault(sealed.label, {})
        for kid, n in rows:
            keys[kid] = keys.get(kid, 0) + n
    return counts


def _refuse_unknown(found: Census, known: frozenset[str]) -> None:
    unknown = [
        f"{n} {label} sealed with key {kid!r}"
        for label, keys in found.items()
        for kid, n in keys.items()
        if kid not in known
    ]
    if unknown:
        raise RotationError(
            f"{'; '.join(unknown)}, which HERALD_CREDENTIAL_KEYS lacks: add it back and run "
            "again (nothing was re-sealed)"
        )


async def _reseal_all(
    db: Database,
    box: CredentialBox,
    sealed: SealedColumn,
    size: int,
    say: Callable[[str], None],
    totals: dict[str, int],
) -> int:
    done, after = 0, None
    while True:
        async with db.transaction() as session:
            count, after = await _reseal_batch(session, box, sealed, after, size)
        if not count:
            return done
        done += count
        say(f"… {sealed.label}: {done} of {max(done, totals.get(sealed.label, 0))} re-sealed")


async def _reseal_batch(
    session: AsyncSession,
    box: CredentialBox,
    sealed: SealedColumn,
    after: Sequence[Any] | None,
    size: int,
) -> tuple[int, Sequence[Any] | None]:
    """Re-seal the next ``size`` values past the primary key ``after``; returns how many and
    the last primary key."""
    key = [sealed.column(name) for name in sealed.key]
    ciphertext, key_id = sealed.column(sealed.ciphertext), sealed.column(sealed.key_id)
    query = select(*key, ciphertext, key_id).where(
        key_id.is_not(None), ciphertext.is_not(None), key_id != box.active_key_id
    )
    if after is not None:
        query = query.where(tuple_(*key) > tuple(after))
    rows = (await session.execute(query.order_by(*key).limit(size).with_for_update())).all()
    if not rows:
        return 0, after
    params = []
    for row in rows:
        row_key = tuple(row[: len(key)])
        try:
            plain = box.open(Sealed(row[-1], row[-2]))
        except CredentialKeyError as error:
            shown = "/".join(str(part) for part in row_key)
            raise RotationError(f"{sealed.label} of {shown}: {error}") from None
        fresh = box.seal(plain)
        params.append(
            {
                **{f"k_{n}": v for n, v in enumerate(row_key)},
                "ct": fresh.ciphertext,
                "kid": fresh.key_id,
            }
        )
    statement = (
        update(sealed.table)
        .where(*(column == bindparam(f"k_{n}") for n, column in enumerate(key)))
        .values({sealed.ciphertext: bindparam("ct"), sealed.key_id: bindparam("kid")})
    )
    await session.execute(statement, params)
    return len(rows), tuple(rows[-1][: len(key)])
