"""``/healthz``, ``/readyz`` and ``/metrics`` for every service, and a way to serve them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from herald.common.telemetry import TELEMETRY

Check = Callable[[], Awaitable[object]]
CHECK_TIMEOUT_S = 2.0


async def run_checks(checks: Mapping[str, Check]) -> tuple[bool, dict[str, dict[str, object]]]:
    """Run every check concurrently with a timeout; report each one's status and latency."""

    async def one(check: Check) -> dict[str, object]:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_S)
            status: dict[str, object] = {"status": "ok"}
        except Exception as error:  # a check failing is the answer, not a crash
            status = {"status": "failing", "error": type(error).__name__}
        status["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return status

    results = await asyncio.gather(*(one(check) for check in checks.values()))
    report = dict(zip(checks, results, strict=True))
    return all(r["status"] == "ok" for r in results), report


def ops_router(checks: Mapping[str, Check]) -> APIRouter:
    """Liveness (the process answers), readiness (its dependencies answer) and metrics."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        ready, report = await run_checks(checks)
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": report},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


def ops_app(checks: Mapping[str, Check]) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, telemetry=TELEMETRY)
    app.include_router(ops_router(checks))
    return app


def http_server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server to run inside the service's own event loop (``await server.serve()``)."""
    config = uvicorn.Config(
        app, host=host, port=port, access_log=False, log_config=None, lifespan="off"
    )
    return _EmbeddedServer(config)


class _EmbeddedServer(uvicorn.Server):
    """Leaves signals to the service, which stops the server as one step of its shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
