"""What an authenticated API key's request must pass before its route runs: the key's request
budget (429), then its Idempotency-Key (``idempotency.claim``).

Called by ``auth.principal`` inside the transaction that looked the key up, so the budget costs
one statement and no transaction of its own. It returns the refusal rather than raising it: the
caller raises after the commit, so a refused or replayed request still spent its budget. Only
API keys get here: the operator token and the probes (/healthz, /readyz, /metrics) never do.
"""

from __future__ import annotations

import uuid

import structlog
from fastapi import Request
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api import idempotency
from herald.api.adapters import request_budget_store
from herald.api.domain.request_budget import headers
from herald.api.middleware import add_response_headers
from herald.api.problems import Problem
from herald.api.state import AppState

log = structlog.get_logger(__name__)

RATE_LIMITED = Counter(
    "herald_api_rate_limited_total", "Requests refused because their API key's budget was spent"
)


def needed(request: Request, state: AppState) -> bool:
    """Whether ``admit`` has anything to do: a budget to spend or an Idempotency-Key to claim
    (pure; without either, the key is read outside a transaction). A step added to ``admit``
    must be added here too."""
    claims_a_key = idempotency.recorder_of(request) is not None
    return state.settings.request_budget().enabled or claims_a_key


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
        add_response_headers(request, headers(spent, budget))
        if not spent.allowed:
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
    return await idempotency.claim(session, request, state, api_key_id, tenant_id)
