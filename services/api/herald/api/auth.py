"""API keys: random, shown once, stored as a SHA-256 digest, scoped to one tenant and a role.

Keys carry 256 bits of entropy, so a plain digest lookup is as safe as a password hash and
costs microseconds instead of milliseconds per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Row, Table, bindparam, select

from herald.api import request_guard
from herald.api.adapters import request_budget_store
from herald.api.problems import Problem
from herald.api.state import AppState, app_state
from herald.common.db.models import ApiKey

KEY_PREFIX = "hk_"


class Role(StrEnum):
    ADMIN = "admin"  # everything, including keys and channels
    REVIEWER = "reviewer"  # approves and rejects
    EDITOR = "editor"  # creates and submits assets
    VIEWER = "viewer"  # reads


@dataclass(frozen=True)
class Principal:
    tenant_id: uuid.UUID
    key_id: uuid.UUID
    role: Role


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


bearer = HTTPBearer(auto_error=False, description="Herald API key (or the operator token)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def _state(request: Request) -> AppState:
    """``app_state`` as a dependency: FastAPI runs a plain ``def`` dependency in a worker
    thread, a thread hop on every request (and every request stalls while the pool is full)."""
    return app_state(request)


State = Annotated[AppState, Depends(_state)]


INVALID_KEY = "the API key is unknown, revoked or expired"


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Missing or invalid API key", detail)


_KEYS = cast(Table, ApiKey.__table__)  # Core: plain rows, no ORM compilation
_KEY = select(
    _KEYS.c.id, _KEYS.c.tenant_id, _KEYS.c.role, _KEYS.c.revoked_at, _KEYS.c.expires_at
).where(_KEYS.c.key_hash == bindparam("digest"))
"""Built once (building a statement costs more CPU than running it)."""
_KeyRow = Row[uuid.UUID, uuid.UUID, str, datetime | None, datetime | None]


async def principal(credentials: Credentials, state: State, request: Request) -> Principal:
    """The tenant and role of the request's API key; 401 if there is none or it is not valid,
    429 when its request budget is spent. A request with an Idempotency-Key reads its key,
    spends its budget and claims the Idempotency-Key in one transaction (``request_guard``);
    any other request, the common case, sends one statement in autocommit."""
    if credentials is None:
        raise _unauthorized("send Authorization: Bearer <api key>")
    found = {"digest": digest(credentials.credentials)}
    if request_guard.carries_idempotency_key(request):
        async with state.db.transaction() as session:
            who = _valid((await session.execute(_KEY, found)).first())
            refusal = await request_guard.admit(session, request, state, who.key_id, who.tenant_id)
        if refusal is not None:
            raise refusal
        return who
    budget = state.settings.request_budget()
    async with state.db.autocommit() as connection:
        if not budget.enabled:
            return _valid((await connection.execute(_KEY, found)).first())
        params = {**found, **request_budget_store.budget_params(budget)}
        row = (await connection.execute(request_budget_store.KEY_AND_SPEND, params)).first()
        if row is None or not row.usable:  # judged by the database's clock; nothing spent
            raise _unauthorized(INVALID_KEY)
        who = _principal(row.id, row.tenant_id, row.role)
        decided = await request_budget_store.judged(connection, who.key_id, row, budget)
    refusal = request_guard.budget_refusal(request, decided, budget, who.key_id)
    if refusal is not None:
        raise refusal
    return who


def _valid(key: _KeyRow | None) -> Principal:
    """The key's principal; 401 when it is unknown, revoked or expired."""
    now = datetime.now(UTC)
    if key is None or key.revoked_at is not None or (key.expires_at and key.expires_at <= now):
        raise _unauthorized(INVALID_KEY)
    return _principal(key.id, key.tenant_id, key.role)


def _principal(key_id: uuid.UUID, tenant_id: uuid.UUID, role: str) -> Principal:
    return Principal(tenant_id=tenant_id, key_id=key_id, role=Role(role))


def require(*roles: Role) -> Any:
    """A dependency that admits only keys with one of ``roles`` (admins always pass)."""

    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role is not Role.ADMIN and who.role not in roles:
            raise Problem(
                403,
                "forbidden",
                "Your key's role does not allow this",
                f"requires one of: {', '.join(r.value for r in roles)}",
            )
        return who

    return Depends(check)


async def operator(credentials: Credentials, request: Request) -> None:
    """Admit only the operator token from settings (constant-time comparison)."""
    token = app_state(request).settings.operator_token
    if credentials is None or not hmac.compare_digest(credentials.credentials, token):
        raise _unauthorized("operator routes need the operator token")


Who = Annotated[Principal, Depends(principal)]
