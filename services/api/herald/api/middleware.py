"""HTTP middleware: request metrics, a body size limit answered with problem+json, headers
that dependencies add to any response, and CORS when configured."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from prometheus_client import Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.api.problems import problem_response

REQUESTS = Counter(
    "herald_http_requests_total", "HTTP requests handled", ["method", "route", "status"]
)
LATENCY = Histogram(
    "herald_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route(scope: Scope) -> str:
    return getattr(scope.get("route"), "path", "unmatched")


class Observe:
    """Count and time each request by its route template (bounded labels), up to the start of
    its response (a live-update stream is not timed for as long as it stays open). Pure ASGI:
    Starlette's ``BaseHTTPMiddleware`` cost a request more than its route's own work."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: list[int] = []

        def record(status: int) -> None:
            seen.append(status)
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            route = _route(scope)
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start" and not seen:
                record(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            if not seen:  # it raised before answering: the server answers 500
                record(500)


class LimitBody:
    """Refuse bodies over ``max_bytes`` by their Content-Length, before reading them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = _header(scope, b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                response = problem_response(
                    413,
                    "payload_too_large",
                    "Request body too large",
                    f"the limit is {self.max_bytes} bytes",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


RESPONSE_HEADERS = "herald.response_headers"  # key in the request's scope state


def add_response_headers(request: Request, headers: Mapping[str, str]) -> None:
    """Headers a dependency wants on this request's response, whatever produces it: the route,
    a problem raised on the way, or a replayed response (``ResponseHeaders`` adds them)."""
    state: dict[str, Any] = request.scope.setdefault("state", {})
    state.setdefault(RESPONSE_HEADERS, {}).update(headers)


class ResponseHeaders:
    """Adds the headers of ``add_response_headers`` as the response starts (pure ASGI: a
    streamed response passes through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            extra = scope.get("state", {}).get(RESPONSE_HEADERS)
            if message["type"] == "http.response.start" and extra:
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                for name, value in extra.items():
                    headers[name] = value
                message = {**message, "headers": headers.raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cors_options(origins: list[str]) -> dict[str, Any]:
    """Starlette ``CORSMiddleware`` settings: the API's methods and request headers, and the
    response headers a browser client needs to read (rate limits, replays)."""
    return {
        "allow_origins": origins,
        "allow_methods": ["GET", "POST", "PATCH", "DELETE"],
        "allow_headers": ["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
        "expose_headers": [
            "Retry-After",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "Idempotent-Replayed",
        ],
        "max_age": 600,
    }
