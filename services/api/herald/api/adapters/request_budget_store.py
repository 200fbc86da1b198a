"""API keys' request budgets in PostgreSQL (``rate_limit_buckets``, key ``api-key:<id>``).

Every replica spends from the same row, in one statement: an upsert whose conflict branch
advances the TAT only when ``domain.request_budget.admit`` would admit the request. The row lock
the upsert takes serialises replicas; the clock is the database's, so replicas' clocks never
disagree about a bucket. A refused request changes nothing, and reads the TAT back for its
Retry-After (a second statement, on the refusal path only).

A request without an Idempotency-Key reads its API key and spends from the key's budget in one
statement (``KEY_AND_SPEND``) on an autocommit connection: one round trip, where a transaction
(BEGIN, the key, the spend, COMMIT) took four, and the bucket's row is locked for that one
statement only. The statements are built once, with bind parameters: building them cost more
CPU than running them.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import (
    DateTime,
    Interval,
    Table,
    Text,
    bindparam,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from herald.api.domain.request_budget import Budget, Spend, admit, admitted
from herald.common.db.models import ApiKey, RateLimitBucket

TICK = timedelta(microseconds=1)
KEY_PREFIX = "api-key:"

_BUCKETS = cast(Table, RateLimitBucket.__table__)
_KEYS = cast(Table, ApiKey.__table__)
# The clock is read once the row lock is granted (clock_timestamp, not the transaction's start):
# a request that queued behind another must not be judged as of before it, or a burst spread
# over replicas would lose part of its budget to the queueing.
_NOW = func.clock_timestamp(type_=DateTime(timezone=True))
_INTERVAL = bindparam("interval", type_=Interval())
_CAPACITY = bindparam("capacity", type_=Interval())
_START = func.greatest(_BUCKETS.c.tat, _NOW, type_=DateTime(timezone=True))


def _spending(rows: Any) -> Any:
    """The upsert that takes one token for each bucket key ``rows`` yields (what ``admit``
    allows: the conflict branch writes only then), returning the TAT it stored and the clock."""
    return (
        rows.on_conflict_do_update(
            index_elements=[_BUCKETS.c.key],
            set_={"tat": _START + _INTERVAL},
            where=_START + _INTERVAL <= _NOW + _CAPACITY,
        )
    ).returning(_BUCKETS.c.tat, _NOW.label("now"))


_SPEND = _spending(insert(_BUCKETS).values(key=bindparam("key"), tat=_NOW + _INTERVAL))
_READ = select(  # always one row: tat NULL where the bucket does not exist
    select(_BUCKETS.c.tat).where(_BUCKETS.c.key == bindparam("key")).scalar_subquery().label("tat"),
    _NOW.label("now"),
)

_FOUND = (  # volatile (its clock), so PostgreSQL evaluates it once for both its readers
    select(
        _KEYS.c.id,
        _KEYS.c.tenant_id,
        _KEYS.c.role,
        (
            _KEYS.c.revoked_at.is_(None)
            & or_(_KEYS.c.expires_at.is_(None), _KEYS.c.expires_at > _NOW)
        ).label("usable"),
    )
    .where(_KEYS.c.key_hash == bindparam("digest"))
    .cte("found")
)
_USABLE = select(  # an unknown, revoked or expired key spends nothing: it is refused (401)
    literal(KEY_PREFIX) + sql_cast(_FOUND.c.id, Text), _NOW + _INTERVAL
).where(_FOUND.c.usable)
_SPENT = _spending(insert(_BUCKETS).from_select(["key", "tat"], _USABLE)).cte("spent")
KEY_AND_SPEND = select(_FOUND, _SPENT.c.tat, _SPENT.c.now).select_from(
    _FOUND.outerjoin(_SPENT, true())
)
"""The API key whose digest is ``digest`` (no row: unknown), whether it is ``usable`` (neither
revoked nor expired), and, when it is, one token taken from its budget: ``tat`` and ``now``
are NULL when the budget refused it. The key is judged once, as the request arrives, before
any wait for the bucket's row lock: the answer and the spend always agree (a key that expires
while its request waits was usable, and spent; the next request is refused and spends
nothing)."""

Executor = AsyncSession | AsyncConnection


def bucket_key(api_key_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}{api_key_id}"


def budget_params(budget: Budget) -> dict[str, timedelta]:
    return {"interval": budget.interval, "capacity": budget.capacity}


async def spend(executor: Executor, key: str, budget: Budget) -> Spend:
    """Take one request from the budget of ``key`` (in the caller's transaction, if any)."""
    row = (await executor.execute(_SPEND, {"key": key, **budget_params(budget)})).one_or_none()
    if row is None:
        return await _refused(executor, key, budget)
    return admitted(row.tat, budget, row.now)


class SpendRow(Protocol):
    """What ``KEY_AND_SPEND`` says of the spend: the TAT it stored (None: refused), and when."""

    @property
    def tat(self) -> datetime | None: ...
    @property
    def now(self) -> datetime | None: ...


async def judged(executor: Executor, api_key_id: uuid.UUID, row: SpendRow, budget: Budget) -> Spend:
    """The decision ``KEY_AND_SPEND`` took for a usable key's request (``row``)."""
    if row.tat is None or row.now is None:
        return await _refused(executor, bucket_key(api_key_id), budget)
    return admitted(row.tat, budget, row.now)


async def _refused(executor: Executor, key: str, budget: Budget) -> Spend:
    """A refusal's Retry-After, from the TAT as it now is (the refusal changed nothing). A
    usable key's refusal always finds its bucket; should one be missing all the same, it
    answers as a bucket whose token just came back: refused, to be tried again at once, never
    an error."""
    current = (await executor.execute(_READ, {"key": key})).one()
    refused = admit(current.tat, budget, current.now)
    if refused.allowed:  # a token came back in the microseconds between the two statements
        return replace(refused, allowed=False, tat=current.tat, remaining=0, retry_after=TICK)
    return refused
