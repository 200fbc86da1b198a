"""Idempotent POSTs on the wire: replays, and responses held back until they are stored.

``IdempotencyMiddleware`` (pure ASGI) engages only for POSTs carrying an Idempotency-Key, and
leaves their request body alone (FastAPI reads it, after the body size limit). Once
``idempotency.claim`` holds the key for the request, the response is held back until it is
stored, so a client that has a response can always get it again; a 5xx, a crash or a response
too large to keep releases the key instead, and the response goes out as it came.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.api.adapters import idempotency_store as store
from herald.api.adapters.idempotency_store import Slot
from herald.api.domain.idempotency import HEADER, replayed_headers, stored
from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database

log = structlog.get_logger(__name__)

RECORDER = "herald.idempotency"  # key in the request's scope state


class Replay(Exception):
    """Raised by ``claim``'s caller to answer with a stored response; the middleware sends it."""

    def __init__(self, status: int, headers: list[list[str]], body: bytes) -> None:
        super().__init__(status)
        self.status, self.headers, self.body = status, headers, body

    def response(self) -> Response:
        response = Response(self.body, status_code=self.status)
        for name, value in self.headers:
            response.headers.append(name, value)
        response.headers["Idempotent-Replayed"] = "true"
        return response


@dataclass(frozen=True)
class Holding:
    """A claimed key: where to store the response, and how large a one is kept."""

    db: Database
    box: CredentialBox
    slot: Slot
    token: uuid.UUID
    max_bytes: int


class Recorder:
    """The response of one POST with an Idempotency-Key, held back while a claim is held."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.holding: Holding | None = None  # set by ``claim``
        self._start: Message | None = None
        self._chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if self.holding is None or (self._start is None and not _starts(message)):
            await self._send(message)
        elif message["type"] == "http.response.start":
            self._start = message
        elif message["type"] == "http.response.body":
            self._chunks.append(message.get("body", b""))
            size = sum(len(chunk) for chunk in self._chunks)
            if not message.get("more_body", False):
                await self._settle(final=True)
            elif size > self.holding.max_bytes:
                await self._settle(final=False)  # too large to keep: streamed, not stored
        else:  # an extension's message (a file sent by path, say): not kept, passed on
            await self._settle(final=False)
            await self._send(message)

    async def abandon(self) -> None:
        """The request failed without a response (a crash, answered 500 outside): release."""
        if self.holding is not None:
            holding, self.holding = self.holding, None
            await _store(holding, None)

    async def _settle(self, *, final: bool) -> None:
        holding, self.holding = self.holding, None
        start, body = self._start, b"".join(self._chunks)
        assert holding is not None
        assert start is not None, "a body comes after its start"
        keep = final and stored(start["status"]) and len(body) <= holding.max_bytes
        await _store(holding, (start, body) if keep else None)
        await self._send(start)
        if final or body:
            await self._send({"type": "http.response.body", "body": body, "more_body": not final})


def _starts(message: Message) -> bool:
    return bool(message["type"] == "http.response.start")


async def _store(holding: Holding, response: tuple[Message, bytes] | None) -> None:
    """Keep ``response`` for replays, or release the key (None) so that a retry runs again."""
    try:
        async with holding.db.transaction() as session:
            if response is None:
                await store.release(session, holding.slot, holding.token)
                return
            start, body = response
            sealed = holding.box.seal({"body": base64.b64encode(body).decode()})
            headers = replayed_headers(list(start.get("headers", [])))
            await store.complete(
                session, holding.slot, holding.token, start["status"], headers, sealed
            )
    except (SQLAlchemyError, OSError) as error:
        # The request's effect is committed and its response must still go out; the record
        # stays in progress until its lock lapses, then a retry takes it over.
        log.warning(
            "http.idempotency_not_recorded",
            key_id=str(holding.slot.api_key_id),
            error=type(error).__name__,
        )


class IdempotencyMiddleware:
    """Sends replays and holds claimed responses back until stored (see the module's doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _idempotent_post(scope):
            await self.app(scope, receive, send)
            return
        recorder = Recorder(send)
        scope.setdefault("state", {})[RECORDER] = recorder
        try:
            await self.app(scope, receive, recorder.send)
        except Replay as replay:
            await replay.response()(scope, receive, send)
        except Exception:
            await recorder.abandon()
            raise
        await recorder.abandon()  # a no-op unless the app returned without a whole response


def _idempotent_post(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    return any(name == HEADER.encode() for name, _ in scope["headers"])
