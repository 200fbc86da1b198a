"""The sandbox platform's HTTP API (FastAPI): records posts, replays keys, plays faults.

Every handler is ``async`` and never awaits between reading and writing the store, so
concurrent requests (e.g. many deliveries of one idempotency key) are serialised by the
event loop without a lock. Nothing is logged per request.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from herald.sandbox.auth import AuthError, auth_error_response, require_token
from herald.sandbox.schemas import FaultsIn, PostIn, post_json, retry_after_header
from herald.sandbox.store import FaultScript, PostStore, ScriptedResponse
from herald.sandbox.webhook_inbox import webhook_inbox_router

DEFAULT_HANG_SECONDS = 3600.0
"""Longest a ``hang`` fault holds a request open when the client never disconnects."""


@dataclass
class Sandbox:
    """State of one app instance; ``posts_total`` maps a result label to its counter child."""

    hang_seconds: float
    store: PostStore = field(default_factory=PostStore)
    faults: FaultScript = field(default_factory=FaultScript)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    posts_total: dict[str, Counter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counter = Counter(
            "herald_sandbox_posts",
            "POST /posts outcomes: created (new post), duplicate (key replay), fault (scripted)",
            ["result"],
            registry=self.registry,
        )
        for result in ("created", "duplicate", "fault"):
            self.posts_total[result] = counter.labels(result=result)


def create_app(*, hang_seconds: float = DEFAULT_HANG_SECONDS) -> FastAPI:
    """Return a fresh sandbox app with empty state and its own metrics registry.

    ``hang_seconds`` caps how long a scripted ``hang`` waits for the client to go away.
    """
    sandbox = Sandbox(hang_seconds=hang_seconds)
    app = FastAPI(title="Herald sandbox platform")
    app.state.sandbox = sandbox
    app.add_exception_handler(AuthError, auth_error_response)
    app.include_router(_posts_router(sandbox))
    app.include_router(_faults_router(sandbox))
    app.include_router(_ops_router(sandbox))
    app.include_router(webhook_inbox_router())
    return app


async def _wait_for_disconnect(request: Request, limit: float) -> None:
    """Return once the client disconnects, or after ``limit`` seconds, whichever is first."""

    async def until_disconnect() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(until_disconnect(), timeout=limit)


async def _play(scripted: ScriptedResponse, request: Request, hang: float) -> Response | None:
    """Apply delay and hang of ``scripted``; return the error to send, or None to proceed."""
    if scripted.delay_ms > 0:
        await asyncio.sleep(scripted.delay_ms / 1000)
    if scripted.hang:
        await _wait_for_disconnect(request, hang)
    if scripted.status < 400:
        return None
    headers = {}
    if scripted.retry_after is not None:
        headers["Retry-After"] = retry_after_header(scripted.retry_after)
    return JSONResponse({"error": "scripted"}, status_code=scripted.status, headers=headers)


async def _accept_and_drop(
    sandbox: Sandbox, payload: PostIn, key: str | None, request: Request
) -> Response:
    """Record the post, then hold the request until the client gives up on it."""
    post, created = sandbox.store.record(
        payload.account, key or None, payload.body, payload.media, datetime.now(UTC)
    )
    sandbox.posts_total["created" if created else "duplicate"].inc()
    await _wait_for_disconnect(request, sandbox.hang_seconds)
    return JSONResponse(post_json(post), status_code=201 if created else 200)


def _posts_router(sandbox: Sandbox) -> APIRouter:
    """Routes under ``/posts``: publish, list/lookup, get one, clear."""
    router = APIRouter()

    @router.post("/posts", dependencies=[Depends(require_token)])
    async def publish(
        payload: PostIn,
        request: Request,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> Response:
        scripted = sandbox.faults.next_response(payload.account)
        if scripted is not None and scripted.drop:
            return await _accept_and_drop(sandbox, payload, idempotency_key, request)
        if scripted is not None:
            failure = await _play(scripted, request, sandbox.hang_seconds)
            if failure is not None:
                sandbox.posts_total["fault"].inc()
                return failure
        post, created = sandbox.store.record(
            payload.account, idempotency_key or None, payload.body, payload.media, datetime.now(UTC)
        )
        sandbox.posts_total["created" if created else "duplicate"].inc()
        return JSONResponse(post_json(post), status_code=201 if created else 200)

    @router.get("/me", dependencies=[Depends(require_token)])
    async def who_am_i() -> Response:
        """Checks the bearer token as ``POST /posts`` would (``expired`` is refused)."""
        return JSONResponse({"authenticated": True})

    @router.get("/posts")
    async def list_posts(
        account: str | None = None, idempotency_key: str | None = None
    ) -> Response:
        if account is not None and idempotency_key is not None:
            found = sandbox.store.find_by_key(account, idempotency_key)
            posts = [] if found is None else [found]
        else:
            posts = sandbox.store.list(account)
            if idempotency_key is not None:
                posts = [p for p in posts if p.idempotency_key == idempotency_key]
        return JSONResponse([post_json(p) for p in posts])

    @router.get("/posts/{post_id}")
    async def get_post(post_id: str) -> Response:
        post = sandbox.store.get(post_id)
        if post is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(post_json(post))

    @router.delete("/posts")
    async def clear_posts() -> Response:
        deleted = len(sandbox.store)
        sandbox.store.clear()
        return JSONResponse({"deleted": deleted})

    return router


def _faults_router(sandbox: Sandbox) -> APIRouter:
    """Routes under ``/faults``: append to an account's script, clear scripts."""
    router = APIRouter()

    @router.post("/faults")
    async def add_faults(payload: FaultsIn) -> Response:
        scripted = [entry.to_scripted() for entry in payload.responses]
        pending = sandbox.faults.append(payload.account, scripted)
        return JSONResponse({"account": payload.account, "pending": pending})

    @router.delete("/faults")
    async def clear_faults(account: str | None = None) -> Response:
        sandbox.faults.clear(account)
        return JSONResponse({"account": account, "pending": 0})

    return router


def _ops_router(sandbox: Sandbox) -> APIRouter:
    """Operational routes: liveness and Prometheus metrics."""
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(sandbox.registry), media_type=CONTENT_TYPE_LATEST)

    return router
