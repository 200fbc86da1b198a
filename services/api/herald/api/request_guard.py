"""What an authenticated API key's request must pass before its route runs: the key's request
budget (429), then its Idempotency-Key (``idempotency.claim``).

``admit`` runs inside the transaction that looked the key up, for a request with an
Idempotency-Key (its claim needs the transaction); any other request's budget is spent by the
statement that reads its key, and ``budget_refusal`` judges the result. Refusals are returned,
not raised: the caller raises after the commit, so a refused or replayed request still spent
its budget. Only API keys get here: the operator token and the probes (/healthz, /readyz,
/metrics) never do."""

from __future__ import annotations

import uuid

import structlog
from fastapi import Request
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api import idempotency
from herald.api.adapters import request_budget_store
from herald.api.domain.request_budget import Budget, Spend, headers
from herald.api.middleware import add_response_headers
from herald.api.problems import Problem
from herald.api.state import AppState

log = structlog.get_logger(__name__)

RATE_LIMITED = Counter(
    "herald_api_rate_limited_total", "Requests refused because their API key's budget was spent"
)


def carries_idempotency_key(request: Request) -> bool:
    """Whether the request carries an Idempotency-Key to claim (pure): the claim needs a
    transaction, and ``admit`` runs in it; any other request reads its key and spends from
    its budget in one statement (``request_budget_store.KEY_AND_SPEND``)."""
    return idempotency.recorder_of(request) is not None


async def admit(
    session: AsyncSession,
    request: Request,
    state: AppState,
    api_key_id: uuid.UUID,
    tenant_id: uuid.UUID,
) -> Exception | None:
    """Spend from the key's budget and claim its Idempotency-Key; the refusal to raise, if any."""
    budget = state.settings.request_budget()
    if budget.enabled:
        key = request_budget_store.bucket_key(api_key_id)
        spent = await request_budget_store.spend(session, key, budget)
        refusal = budget_refusal(request, spent, budget, api_key_id)
        if refusal is not None:
            return refusal
    return await idempotency.claim(session, request, state, api_key_id, tenant_id)


def budget_refusal(
    request: Request, spent: Spend, budget: Budget, api_key_id: uuid.UUID
) -> Problem | None:
    """The budget's headers on the response, and the 429 to raise when it refused."""
    add_response_headers(request, headers(spent, budget))
    if spent.allowed:
        return None
    RATE_LIMITED.inc()
    log.info(
        "http.rate_limited",
        key_id=str(api_key_id),
        path=request.url.path,
        retry_after_s=spent.retry_after_s,
    )
    return Problem(
        429,
        "rate_limited",
        "Too many requests for this API key",
        f"this key may make {budget.burst} requests at once and "
        f"{budget.rate_per_s:g} per second; retry in {spent.retry_after_s} s",
    )
