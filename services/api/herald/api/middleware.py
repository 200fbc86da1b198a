"""HTTP middleware: request metrics, and a body size limit answered with problem+json."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import Counter, Histogram

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
