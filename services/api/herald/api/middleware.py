"""HTTP middleware: request metrics, a body size limit answered with problem+json, headers
that dependencies add to any response, and CORS when configured."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import Request, Response
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

Next = Callable[[Request], Awaitable[Response]]
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


async def observe(request: Request, call_next: Next) -> Response:
    """Count and time each request by its route template (bounded labels)."""
    started = time.perf_counter()
    response = await call_next(request)
    route = _route(request)
    method = request.method if request.method in KNOWN_METHODS else "other"
    REQUESTS.labels(method, route, str(response.status_code)).inc()
    LATENCY.labels(method, route).observe(time.perf_counter() - started)
    return response


def limit_body(max_bytes: int) -> Callable[[Request, Next], Awaitable[Response]]:
    """Refuse bodies over ``max_bytes`` by their Content-Length, before reading them."""

    async def check(request: Request, call_next: Next) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            return problem_response(
                413,
                "payload_too_large",
                "Request body too large",
                f"the limit is {max_bytes} bytes",
            )
        return await call_next(request)

    return check


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
