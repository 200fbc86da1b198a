"""A Mastodon instance's REST API as docs.joinmastodon.org documents it, for the adapter's
tests: media uploads (``POST /api/v2/media``, 202 while a video processes, ``GET
/api/v1/media/{id}`` 206 until ready), statuses with ``Idempotency-Key`` (a repeat returns the
first status), ``verify_credentials``, ``X-RateLimit-*`` headers on every answer, 429 with
``X-RateLimit-Reset``, ``{"error": ...}`` bodies. Uploads are read as a stream and hashed,
never kept whole (starlette spools form files to disk past 1 MB)."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.serving import serving

MB = 1024 * 1024
IMAGE_LIMIT, VIDEO_LIMIT = 16 * MB, 99 * MB
IMAGES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"}
VIDEOS = {"video/mp4", "video/webm", "video/quicktime"}
RATE_LIMIT = 300


@dataclass
class Attachment:
    id: str
    account: str
    type: str
    size: int
    sha256: str
    polls_left: int  # GET /api/v1/media/{id} answers 206 this many more times

    def json(self, base: str) -> dict[str, Any]:
        ready = self.polls_left == 0
        return {
            "id": self.id,
            "type": "video" if self.type in VIDEOS else "image",
            "url": f"{base}/system/media/{self.id}" if ready else None,
            "preview_url": f"{base}/system/media/{self.id}/small",
            "description": None,
        }


@dataclass
class Status:
    id: str
    account: str
    text: str
    media_ids: list[str]
    visibility: str
    idempotency_key: str | None
    deliveries: int = 1  # requests that carried its key


@dataclass
class Scripted:
    status: int
    retry_after: float | None = None  # 429: X-RateLimit-Reset this many seconds ahead
    error: str = "Something went wrong"


@dataclass
class MastodonFake:
    """``tokens``: access token → account name. ``script``: answers for the next API calls."""

    tokens: dict[str, str] = field(default_factory=lambda: {"good-token": "herald"})
    statuses: list[Status] = field(default_factory=list)
    media: dict[str, Attachment] = field(default_factory=dict)
    script: list[Scripted] = field(default_factory=list)
    processing_polls: int = 2
    calls: list[str] = field(default_factory=list)
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(109_000_000))
    _remaining: int = RATE_LIMIT

    def of(self, account: str) -> list[Status]:
        return [s for s in self.statuses if s.account == account]

    def _headers(self) -> dict[str, str]:
        self._remaining = max(0, self._remaining - 1)
        reset = datetime.now(UTC) + timedelta(minutes=5)
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(self._remaining),
            "X-RateLimit-Reset": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }

    def _error(self, status: int, error: str, **headers: str) -> JSONResponse:
        return JSONResponse({"error": error}, status, headers={**self._headers(), **headers})

    def _gate(self, request: Request) -> tuple[str | None, Response | None]:
        """The account of the request's token, or the answer that refuses it (scripted first)."""
        self.calls.append(f"{request.method} {request.url.path}")
        if self.script:
            fault = self.script.pop(0)
            if fault.status == 429:
                reset = datetime.now(UTC) + timedelta(seconds=fault.retry_after or 0)
                return None, self._error(
                    429,
                    "Too many requests",
                    **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset.isoformat()},
                )
            return None, self._error(fault.status, fault.error)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        account = self.tokens.get(token)
        if account is None:
            return None, self._error(401, "The access token is invalid")
        return account, None

    async def verify_credentials(self, request: Request) -> Response:
        account, refused = self._gate(request)
        if refused is not None:
            return refused
        return JSONResponse({"id": "1", "username": account, "acct": account}, 200, self._headers())

    async def upload(self, request: Request) -> Response:
        account, refused = self._gate(request)
        if refused is not None:
            return refused
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return self._error(422, "Validation failed: File can't be blank")
        kind = (upload.content_type or "").split(";")[0]
        limit = IMAGE_LIMIT if kind in IMAGES else VIDEO_LIMIT if kind in VIDEOS else 0
        if not limit:
            return self._error(422, f"Validation failed: File content type {kind} is invalid")
        digest, size = hashlib.sha256(), 0
        while chunk := await upload.read(MB):
            digest.update(chunk)
            size += len(chunk)
        await form.close()
        if size > limit:
            return self._error(422, f"Validation failed: File must be less than {limit} bytes")
        polls = self.processing_polls if kind in VIDEOS else 0
        attachment = Attachment(
            str(next(self._ids)), str(account), kind, size, digest.hexdigest(), polls
        )
        self.media[attachment.id] = attachment
        return JSONResponse(attachment.json(self.url), 202 if polls else 200, self._headers())

    async def media_status(self, request: Request) -> Response:
        account, refused = self._gate(request)
        if refused is not None:
            return refused
        attachment = self.media.get(request.path_params["id"])
        if attachment is None or attachment.account != account:
            return self._error(404, "Record not found")
        if attachment.polls_left:
            attachment.polls_left -= 1
            return JSONResponse(attachment.json(self.url), 206, self._headers())
        return JSONResponse(attachment.json(self.url), 200, self._headers())

    async def post_status(self, request: Request) -> Response:
        account, refused = self._gate(request)
        if refused is not None:
            return refused
        body = await request.json()
        key = request.headers.get("idempotency-key")
        for earlier in self.statuses:
            if key and earlier.account == account and earlier.idempotency_key == key:
                earlier.deliveries += 1
                return JSONResponse(self._json(earlier), 200, self._headers())
        text, media_ids = str(body.get("status") or ""), [str(m) for m in body.get("media_ids", [])]
        if not text and not media_ids:
            return self._error(422, "Validation failed: Text can't be blank")
        if len(text) > 500:
            return self._error(422, "Validation failed: Text character limit of 500 exceeded")
        for media_id in media_ids:
            attachment = self.media.get(media_id)
            if attachment is None or attachment.account != account:
                return self._error(422, "Validation failed: Media attachments are invalid")
            if attachment.polls_left:
                return self._error(
                    422, "Cannot attach files that have not finished processing. Try again!"
                )
        status = Status(
            str(next(self._ids)),
            str(account),
            text,
            media_ids,
            str(body.get("visibility", "public")),
            key,
        )
        self.statuses.append(status)
        return JSONResponse(self._json(status), 200, self._headers())

    def _json(self, status: Status) -> dict[str, Any]:
        return {
            "id": status.id,
            "created_at": datetime.now(UTC).isoformat(),
            "visibility": status.visibility,
            "content": f"<p>{status.text}</p>",
            "url": f"{self.url}/@{status.account}/{status.id}",
            "media_attachments": [self.media[m].json(self.url) for m in status.media_ids],
        }


@contextlib.asynccontextmanager
async def mastodon_fake() -> AsyncIterator[MastodonFake]:
    fake = MastodonFake()
    app = Starlette(
        routes=[
            Route("/api/v1/accounts/verify_credentials", fake.verify_credentials),
            Route("/api/v2/media", fake.upload, methods=["POST"]),
            Route("/api/v1/media/{id}", fake.media_status),
            Route("/api/v1/statuses", fake.post_status, methods=["POST"]),
        ]
    )
    async with serving(app) as base:
        fake.url = base
        yield fake
