"""A webhook receiver in the sandbox: ``POST /webhooks/{name}`` keeps what arrived, so the
local stack has somewhere to send alert notifications and a user can see them arrive.

``GET /webhooks/{name}`` lists them (newest last) with the Standard Webhooks headers, so a
receiver's verification can be tried by hand. Kept in memory, bounded per name.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

KEPT_PER_NAME = 500
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")


def webhook_inbox_router() -> APIRouter:
    router = APIRouter()
    inbox: defaultdict[str, deque[dict[str, Any]]] = defaultdict(
        lambda: deque(maxlen=KEPT_PER_NAME)
    )

    @router.post("/webhooks/{name}", status_code=204)
    async def receive(name: str, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        inbox[name].append(
            {
                "received_at": datetime.now(UTC).isoformat(),
                "headers": {h: request.headers.get(h) for h in HEADERS},
                "body": body,
            }
        )
        return Response(status_code=204)

    @router.get("/webhooks/{name}")
    async def received(name: str) -> Response:
        return JSONResponse(list(inbox.get(name, ())))

    return router
