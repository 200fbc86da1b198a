"""Idempotency-Key records in PostgreSQL: claimed by a unique insert, judged when it conflicts.

The first request's insert wins; a concurrent duplicate's insert waits on the unique index until
the winner commits, then reads its record under a row lock (so two retries cannot both take a
dead one over). Completion and release check ``claim``: a request that outlived its lock and was
taken over cannot overwrite its successor's record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.domain.idempotency import Fingerprint, Record, Verdict, judge
from herald.common.credentials import Sealed
from herald.common.db.models import IdempotencyKey
from herald.common.ids import new_id


@dataclass(frozen=True)
class Slot:
    """One Idempotency-Key of one API key."""

    api_key_id: uuid.UUID
    key: str


@dataclass(frozen=True)
class Stored:
    status: int
    headers: list[list[str]]
    body: Sealed


@dataclass(frozen=True)
class Claim:
    verdict: Verdict | None  # None: a fresh key, now this request's
    token: uuid.UUID | None  # set when this request holds the record, and runs
    stored: Stored | None = None  # the response to replay


COLUMNS = (
    IdempotencyKey.method,
    IdempotencyKey.path,
    IdempotencyKey.body_sha256,
    IdempotencyKey.status,
    IdempotencyKey.locked_until,
    IdempotencyKey.expires_at,
    IdempotencyKey.response_headers,
    IdempotencyKey.response_key_id,
    IdempotencyKey.response_ciphertext,
)


async def claim(
    session: AsyncSession,
    slot: Slot,
    tenant_id: uuid.UUID,
    request: Fingerprint,
    lock: timedelta,
    ttl: timedelta,
) -> Claim:
    """Record ``slot`` as in progress for this request, or say why not (inside the caller's
    transaction: the record becomes visible when it commits)."""
    token, now = new_id(), func.now()
    fields = {
        "method": request.method,
        "path": request.path,
        "body_sha256": request.body_sha256,
        "claim": token,
        "locked_until": now + lock,
        "expires_at": now + ttl,
    }
    fresh = await session.scalar(
        insert(IdempotencyKey)
        .values(api_key_id=slot.api_key_id, key=slot.key, tenant_id=tenant_id, **fields)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.claim)
    )
    if fresh is not None:
        return Claim(None, token)
    row = (
        await session.execute(
            select(*COLUMNS, now.label("now")).where(*_is(slot)).with_for_update()
        )
    ).one_or_none()
    if row is None:  # released after a failure since the insert: the client retries
        return Claim(Verdict.IN_PROGRESS, None)
    record = Record(
        Fingerprint(row.method, row.path, row.body_sha256),
        row.status,
        row.locked_until,
        row.expires_at,
    )
    verdict = judge(record, request, row.now)
    if verdict is Verdict.TAKE_OVER:
        cleared = {"status": None, "response_headers": None, "response_key_id": None}
        await session.execute(
            update(IdempotencyKey)
            .where(*_is(slot))
            .values(**fields, **cleared, response_ciphertext=None, created_at=now)
        )
        return Claim(verdict, token)
    if verdict is Verdict.REPLAY and row.status is not None:
        sealed = Sealed(row.response_key_id or "", row.response_ciphertext or b"")
        return Claim(verdict, None, Stored(row.status, row.response_headers or [], sealed))
    return Claim(verdict, None)


async def complete(
    session: AsyncSession,
    slot: Slot,
    token: uuid.UUID,
    status: int,
    headers: list[list[str]],
    body: Sealed,
) -> bool:
    """Store the response of the request holding ``token``; False if it no longer holds it."""
    result = await session.execute(
        update(IdempotencyKey)
        .where(*_is(slot), IdempotencyKey.claim == token, IdempotencyKey.status.is_(None))
        .values(
            status=status,
            response_headers=headers,
            response_key_id=body.key_id,
            response_ciphertext=body.ciphertext,
            locked_until=None,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def release(session: AsyncSession, slot: Slot, token: uuid.UUID) -> None:
    """Forget the record of a request that failed (5xx), so that the client may retry it."""
    await session.execute(
        delete(IdempotencyKey).where(
            *_is(slot), IdempotencyKey.claim == token, IdempotencyKey.status.is_(None)
        )
    )


def _is(slot: Slot) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (IdempotencyKey.api_key_id == slot.api_key_id, IdempotencyKey.key == slot.key)
