"""A real HTTP webhook receiver for tests: records every request, answers a scripted status.

Runs uvicorn inside the test's event loop on an ephemeral port of 127.0.0.1; verifies the
Standard Webhooks signature the way a tenant's receiver would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.serving import serving


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return str(self.json.get("type"))

    def verifies_with(self, secret: str) -> bool:
        try:
            Webhook(secret).verify(self.body, self.headers)
        except WebhookVerificationError:
            return False
        return True


@dataclass
class Receiver:
    """``script``: statuses to answer in order (then 200); ``delay_s`` before each answer."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    in_flight: int = 0
    most_in_flight: int = 0

    def of(self, webhook_id: str) -> list[Received]:
        """The tries of one delivery."""
        return [r for r in self.received if r.webhook_id == webhook_id]

    def about(self, alert_id: str) -> list[Received]:
        """The deliveries of one alert's events."""
        return [
            r
            for r in self.received
            if r.json.get("data", {}).get("alert", {}).get("id") == alert_id
        ]

    async def _hook(self, request: Request) -> Response:
        self.received.append(
            Received(dict(request.headers), await request.body(), time.monotonic())
        )
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        status = self.script.pop(0) if self.script else 200
        return Response(status_code=status)


@contextlib.asynccontextmanager
async def webhook_receiver(
    script: list[int] | None = None, *, delay_s: float = 0.0, host: str = "127.0.0.1"
) -> AsyncIterator[Receiver]:
    receiver = Receiver(script=list(script or []), delay_s=delay_s)
    app = Starlette(routes=[Route("/hook", receiver._hook, methods=["POST"])])
    async with serving(app, host) as base:
        receiver.url = f"{base}/hook"
        yield receiver
