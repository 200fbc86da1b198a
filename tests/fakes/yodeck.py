"""A Yodeck account's REST API v2, as our reading of its reference describes it, for the
adapter's tests: ``Authorization: Token label:token``; paginated lists (``count``, ``next``,
``results``) of screens, playlists and media (``?search=`` on names); a file created, given a
pre-signed upload URL (``PUT`` with a Content-Length, no Authorization), then completed;
playlists read and written whole (``PATCH`` of ``items``, each media id checked); errors as
``{"detail": ...}``, 429 with Retry-After. Uploads are hashed as they come, never kept."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.serving import serving

TOKEN = "herald:s3cr3t"


@dataclass
class File:
    id: int
    name: str
    kind: str
    status: str = "pending_upload"  # then "processing" once the upload is completed
    size: int = 0
    sha256: str = ""
    content_type: str = ""
    upload_key: str = ""


@dataclass
class Scripted:
    status: int
    retry_after: str | None = None
    detail: str = "Something went wrong."


@dataclass
class YodeckFake:
    """``screens``: id → (name, playlist it shows or None for a layout). ``playlists``:
    id → (name, items). ``script``: answers for the next API calls (not uploads); ``faults``:
    the answer to the next call of one method and path."""

    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    screens: dict[int, tuple[str, int | None]] = field(default_factory=dict)
    playlists: dict[int, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)
    files: dict[int, File] = field(default_factory=dict)
    script: list[Scripted] = field(default_factory=list)
    faults: dict[str, Scripted] = field(default_factory=dict)  # "PATCH /api/v2/..." → answer
    page_base: str = ""  # where "next" points, when not here (a page that leads elsewhere)
    read_delay_s: float = 0.0  # a playlist read this slow lets two writers interleave
    calls: list[str] = field(default_factory=list)
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5000))

    def items(self, playlist: int) -> list[int]:
        return [int(i["id"]) for i in self.playlists[playlist][1] if i.get("type") == "media"]

    def _gate(self, request: Request) -> Response | None:
        call = f"{request.method} {request.url.path}"
        self.calls.append(call)
        if self.script or call in self.faults:
            fault = self.faults.pop(call) if call in self.faults else self.script.pop(0)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return JSONResponse({"detail": fault.detail}, fault.status, headers=headers)
        token = request.headers.get("authorization", "").removeprefix("Token ")
        if token not in self.tokens:
            return JSONResponse({"detail": "Invalid token."}, 401)
        return None

    async def _page(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        await asyncio.sleep(self.read_delay_s)
        limit = int(request.query_params.get("limit", "50"))
        offset = int(request.query_params.get("offset", "0"))
        more = offset + limit < len(rows)
        path = request.url.path
        return JSONResponse(
            {
                "count": len(rows),
                "next": f"{self.page_base or self.url}{path}?limit={limit}&offset={offset + limit}"
                if more
                else None,
                "previous": None,
                "results": rows[offset : offset + limit],
            }
        )

    def _screen(self, screen_id: int) -> dict[str, Any]:
        name, shown = self.screens[screen_id]
        content = (
            {"source_type": "playlist", "source_id": shown}
            if shown is not None
            else {"source_type": "layout", "source_id": 77}
        )
        return {"id": screen_id, "name": name, "state": {"online": True}, "screen_content": content}

    def _playlist(self, playlist_id: int) -> dict[str, Any]:
        name, items = self.playlists[playlist_id]
        return {"id": playlist_id, "name": name, "items": items}

    def _file(self, file: File) -> dict[str, Any]:
        origin = {"type": file.kind, "source": "local"}
        return {"id": file.id, "name": file.name, "status": file.status, "media_origin": origin}

    async def list_screens(self, request: Request) -> Response:
        if refused := self._gate(request):
            return refused
        return await self._page(request, [self._screen(s) for s in sorted(self.screens)])

    async def get_screen(self, request: Request) -> Response:
        if refused := self._gate(request):
            return refused
        screen_id = int(request.path_params["id"])
        if screen_id not in self.screens:
            return JSONResponse({"detail": "Not found."}, 404)
        return JSONResponse(self._screen(screen_id))

    async def list_playlists(self, request: Request) -> Response:
        if refused := self._gate(request):
            return refused
        return await self._page(request, [self._playlist(p) for p in sorted(self.playlists)])

    async def playlist(self, request: Request) -> Response:
        if refused := self._gate(request):
            return refused
        playlist_id = int(request.path_params["id"])
        if playlist_id not in self.playlists:
            return JSONResponse({"detail": "Not found."}, 404)
        if request.method == "GET":
            snapshot = self._playlist(playlist_id)
            snapshot["items"] = list(snapshot["items"])
            await asyncio.sleep(self.read_delay_s)
            return JSONResponse(snapshot)
        items = (await request.json()).get("items")
        if not isinstance(items, list):
            return JSONResponse({"detail": "items: This field is required."}, 400)
        for item in items:
            if item.get("type") == "media" and int(item.get("id", 0)) not in self.files:
                return JSONResponse({"detail": f"items: media {item.get('id')} not found."}, 400)
        self.playlists[playlist_id] = (self.playlists[playlist_id][0], items)
        return JSONResponse(self._playlist(playlist_id))

    async def search_media(self, request: Request) -> Response:
        if refused := self._gate(request):
            return refused
        term = request.query_params.get("search", "")
        found = [self._file(f) for f in self.files.values() if term in f.name]
        return await self._page(request, found)

    async def create_media(self, request: Request) -> Response:
        if refused := self._gate(request):
            return refused
        body = await request.json()
        kind = (body.get("media_origin") or {}).get("type")
        if not body.get("name") or kind not in {"image", "video"}:
            return JSONResponse({"detail": "name and media_origin.type are required."}, 400)
        file = File(next(self._ids), str(body["name"]), kind)
        self.files[file.id] = file
        return JSONResponse(self._file(file), 201)

    async def upload_url(self, request: Request) -> Response:
        if refused := self._gate(request):
            return refused
        file = self.files.get(int(request.path_params["id"]))
        if file is None:
            return JSONResponse({"detail": "Not found."}, 404)
        file.upload_key = secrets.token_hex(8)
        return JSONResponse({"upload_url": f"{self.url}/uploads/{file.id}/{file.upload_key}"})

    async def put_upload(self, request: Request) -> Response:
        """The pre-signed URL: a length is required (S3 refuses chunked PUTs), no token."""
        self.calls.append(f"PUT /uploads/{request.path_params['id']}")
        file = self.files.get(int(request.path_params["id"]))
        if file is None or request.path_params["key"] != file.upload_key:
            return Response("<Error><Code>AccessDenied</Code></Error>", 403)
        if "content-length" not in request.headers:
            return Response("<Error><Code>MissingContentLength</Code></Error>", 411)
        digest, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        file.size, file.sha256 = size, digest.hexdigest()
        file.content_type = request.headers.get("content-type", "")
        return Response(status_code=200, headers={"ETag": f'"{file.sha256[:32]}"'})

    async def complete(self, request: Request) -> Response:
        if refused := self._gate(request):
            return refused
        file = self.files.get(int(request.path_params["id"]))
        if file is None:
            return JSONResponse({"detail": "Not found."}, 404)
        body = await request.json()
        if not file.sha256 or not str(body.get("upload_url", "")).endswith(file.upload_key):
            return JSONResponse({"detail": "The upload has not been made."}, 400)
        file.status = "processing"
        return JSONResponse(self._file(file))


@contextlib.asynccontextmanager
async def yodeck_fake() -> AsyncIterator[YodeckFake]:
    fake = YodeckFake(
        screens={1: ("Lobby", 10), 2: ("Cafe", 20), 3: ("Window", None)},
        playlists={10: ("Lobby loop", []), 20: ("Cafe menu", [])},
    )
    api = "/api/v2"
    app = Starlette(
        routes=[
            Route(f"{api}/screens/", fake.list_screens),
            Route(f"{api}/screens/{{id:int}}/", fake.get_screen),
            Route(f"{api}/playlists/", fake.list_playlists),
            Route(f"{api}/playlists/{{id:int}}/", fake.playlist, methods=["GET", "PATCH"]),
            Route(f"{api}/media/", fake.search_media, methods=["GET"]),
            Route(f"{api}/media/", fake.create_media, methods=["POST"]),
            Route(f"{api}/media/{{id:int}}/upload", fake.upload_url),
            Route(f"{api}/media/{{id:int}}/upload/complete", fake.complete, methods=["PUT"]),
            Route("/uploads/{id:int}/{key}", fake.put_upload, methods=["PUT"]),
        ]
    )
    async with serving(app) as base:
        fake.url = base
        yield fake
