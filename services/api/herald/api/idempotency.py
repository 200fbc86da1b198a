"""Idempotent POSTs: claiming the Idempotency-Key (the rules are ``domain.idempotency``).

``claim`` runs in ``auth.principal`` (through ``request_guard``), after the key is
authenticated and has paid its request budget, inside the same transaction: it records the
Idempotency-Key as in progress for this request, or answers a repeat with a replay or a 409.
``idempotency_middleware`` then stores the response, or sends the replay.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import timedelta
from typing import Any

import structlog
from fastapi import Request
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.adapters import idempotency_store as store
from herald.api.adapters.idempotency_store import Slot
from herald.api.domain.idempotency import (
    HEADER,
    IN_PROGRESS_RETRY_AFTER_S,
    Fingerprint,
    InvalidKey,
    Verdict,
    parse_key,
)
from herald.api.idempotency_middleware import RECORDER, Holding, Recorder, Replay
from herald.api.middleware import add_response_headers
from herald.api.problems import Problem
from herald.api.state import AppState

log = structlog.get_logger(__name__)

IDEMPOTENCY = Counter(
    "herald_api_idempotency_total",
    "POSTs whose Idempotency-Key was seen before, by outcome",
    ["outcome"],  # replayed, key_reused, in_progress, taken_over
)
CONFLICT_CODES = {
    Verdict.REUSED: "idempotency_key_reused",
    Verdict.IN_PROGRESS: "idempotency_key_in_progress",
}


def recorder_of(request: Request) -> Recorder | None:
    """The recorder the middleware gave a POST with an Idempotency-Key; None for any other."""
    recorder: Recorder | None = request.scope.get("state", {}).get(RECORDER)
    return recorder


async def claim(
    session: AsyncSession,
    request: Request,
    state: AppState,
    api_key_id: uuid.UUID,
    tenant_id: uuid.UUID,
) -> Exception | None:
    """Claim the request's Idempotency-Key inside ``session``; the refusal or replay to raise
    once it is committed, if any. A request without the header (or not a POST) passes."""
    recorder = recorder_of(request)
    if recorder is None:
        return None
    try:
        key = parse_key(request.headers.getlist(HEADER))
    except InvalidKey as error:
        return Problem(400, "invalid_idempotency_key", "The Idempotency-Key is invalid", str(error))
    query = request.scope.get("query_string", b"").decode("latin-1")
    path = request.scope["path"] + (f"?{query}" if query else "")
    fingerprint = Fingerprint.of(request.method, path, await request.body())
    slot, settings = Slot(api_key_id, key), state.settings
    lock, ttl = settings.idempotency_lock_s, settings.idempotency_ttl_s
    result = await store.claim(
        session, slot, tenant_id, fingerprint, timedelta(seconds=lock), timedelta(seconds=ttl)
    )
    if result.verdict is not None:
        IDEMPOTENCY.labels(result.verdict.value).inc()
        _log(result.verdict, slot, path)
    if result.token is not None:
        max_bytes = settings.max_body_bytes
        recorder.holding = Holding(state.db, state.credentials, slot, result.token, max_bytes)
        return None
    if result.stored is not None:
        opened: dict[str, Any] = state.credentials.open(result.stored.body)
        body = base64.b64decode(opened["body"])
        return Replay(result.stored.status, result.stored.headers, body)
    if result.verdict is Verdict.REUSED:
        return Problem(
            409,
            CONFLICT_CODES[Verdict.REUSED],
            "This Idempotency-Key was used for another request",
            "a key stands for one request: the same method, path and body",
        )
    add_response_headers(request, {"Retry-After": str(IN_PROGRESS_RETRY_AFTER_S)})
    return Problem(
        409,
        CONFLICT_CODES[Verdict.IN_PROGRESS],
        "A request with this Idempotency-Key is still running",
        "retry shortly: its response will then be replayed",
    )


def _log(verdict: Verdict, slot: Slot, path: str) -> None:
    """No key material: the API key's id, and a digest prefix of the Idempotency-Key."""
    fields = {
        "key_id": str(slot.api_key_id),
        "idempotency_key_sha256": hashlib.sha256(slot.key.encode()).hexdigest()[:12],
        "path": path,
    }
    conflict = CONFLICT_CODES.get(verdict)
    if conflict is not None:
        log.info("http.idempotency_conflict", code=conflict, **fields)
    else:
        log.info(f"http.idempotency_{verdict.value}", **fields)
