"""Yodeck (digital signage): the post's media uploaded to the account and added to the playlist
the channel names, or to the playlists its screens are showing.

Yodeck's REST API v2, as its reference (app.yodeck.com/api-docs, behind an account login)
describes it; ``tests/fakes/yodeck.py`` encodes our reading, so a difference found against a
live account is fixed in both:
- every call sends ``Authorization: Token <label>:<token>`` (a token made under the account's
  advanced settings; it does not expire). Errors are ``{"detail": ...}``; 429 has Retry-After.
- a file: ``POST /api/v2/media/`` (name, ``media_origin``) creates it, ``GET .../upload``
  gives a pre-signed URL the bytes are ``PUT`` to as a stream (its size must be known), and
  ``PUT .../upload/complete`` hands it to Yodeck's processing.
- a playlist's ``items`` are read (``GET /api/v2/playlists/{id}/``) and written whole
  (``PATCH``); a screen's ``screen_content`` names what it shows.
Yodeck keeps no idempotency key: each file is named with the job's key (``[herald:key:n]``),
so a retry reuses what an earlier attempt uploaded, ``lookup`` finds it exactly, and an item
already in a playlist is not added twice. A playlist is read and written under a lock per
playlist, so two jobs adding to it at once do not overwrite each other's item.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from herald.common.platforms import YODECK
from herald.publisher.adapters.platforms import media
from herald.publisher.adapters.platforms.base import Content, Inventory, Target
from herald.publisher.adapters.platforms.http_errors import (
    classify_response,
    explained,
    send,
)
from herald.publisher.domain.errors import PermanentPublishError, PublishError
from herald.publisher.domain.retry_policy import RetryPolicy

MB = 1024 * 1024
IMAGES = media.MediaRules(dict.fromkeys(("image/jpeg", "image/png", "image/gif"), 50 * MB))
VIDEOS = media.MediaRules(dict.fromkeys(("video/mp4", "video/webm", "video/quicktime"), 1024 * MB))
RULES = media.MediaRules({**IMAGES.limits, **VIDEOS.limits})
DEFAULT_DURATION_S = 10
PAGE = 100
MAX_PAGES = 100  # ten thousand screens or playlists: past that, the account is not read whole


class PlaylistLocks(Protocol):
    """Exclusive use of a name across publishers while a playlist is read and written."""

    def hold(self, name: str) -> AbstractAsyncContextManager[None]: ...


class YodeckAdapter:
    info = YODECK
    retry_policy = RetryPolicy()

    def __init__(
        self,
        client: httpx.AsyncClient,
        locks: PlaylistLocks,
        *,
        api_url: str,
        allow_private: bool = False,
    ):
        self._client = client
        self._locks = locks
        self._api = f"{api_url.rstrip('/')}/api/v2"
        self._allow_private = allow_private

    async def publish(self, target: Target, content: Content, idempotency_key: str) -> str:
        if not content.media_urls:
            raise PermanentPublishError(
                "media_required", "Yodeck screens show media: the post has no image or video"
            )
        playlists = await self._playlists(target)
        duration = _duration(target.config.get("duration_s"))
        files = [
            await self._file(target, content, url, _tag(idempotency_key, n))
            for n, url in enumerate(content.media_urls)
        ]
        for playlist in playlists:
            async with self._locks.hold(f"yodeck:playlist:{playlist}"):
                await self._add(target, playlist, files, duration)
        return ",".join(files)

    async def lookup(self, target: Target, idempotency_key: str, content: Content) -> str | None:
        """The files an attempt uploaded with this key, if every one is in every playlist."""
        files = []
        for n in range(len(content.media_urls)):
            found = await self._named(target, _tag(idempotency_key, n))
            if found is None or found.get("status") == "pending_upload":
                return None
            files.append(str(found["id"]))
        for playlist in await self._playlists(target):
            items = await self._items(target, playlist)
            if not set(files) <= {str(i.get("id")) for i in items if i.get("type") == "media"}:
                return None
        return ",".join(files) if files else None

    async def verify(self, target: Target) -> str:
        """The playlists the channel posts to, once Yodeck lets this token read each."""
        names = []
        for playlist in await self._playlists(target):
            answer = await self._call(target, "GET", f"/playlists/{playlist}/")
            names.append(f"{answer.json().get('name', '')} ({playlist})")
        return ", ".join(names)

    async def inventory(self, target: Target, on_page: Callable[[], Awaitable[None]]) -> Inventory:
        """Every screen and playlist of the account; ``on_page`` is awaited after each page
        (the sync renews its lock there)."""
        screens = [
            {
                "id": str(s["id"]),
                "name": s.get("name", ""),
                "online": bool((s.get("state") or {}).get("online")),
                "playlist": _shown_playlist(s),
            }
            async for s in self._pages(target, "/screens/", on_page)
        ]
        playlists = [
            {"id": str(p["id"]), "name": p.get("name", ""), "items": len(p.get("items") or [])}
            async for p in self._pages(target, "/playlists/", on_page)
        ]
        return Inventory(screens, playlists)

    async def _pages(
        self, target: Target, path: str, on_page: Callable[[], Awaitable[None]]
    ) -> AsyncIterator[dict[str, Any]]:
        url: str | None = f"{self._api}{path}?limit={PAGE}&offset=0"
        for _ in range(MAX_PAGES):
            if url is None:
                return
            if not url.startswith(f"{self._api}/"):  # the token goes only to Yodeck's API
                raise PermanentPublishError("foreign_page", f"a page of {path} leads elsewhere")
            answer = (await self._call(target, "GET", url)).json()
            for row in answer.get("results", []):
                yield row
            await on_page()
            url = answer.get("next")
        raise PermanentPublishError("too_many_pages", f"{path} has over {MAX_PAGES * PAGE} rows")

    async def _playlists(self, target: Target) -> list[str]:
        """The playlist the channel names, then those its screens show (each once)."""
        chosen = [str(target.config["playlist"])] if target.config.get("playlist") else []
        for screen in str(target.config.get("screens") or "").split(","):
            if not screen:
                continue
            shown = _shown_playlist((await self._call(target, "GET", f"/screens/{screen}/")).json())
            if shown is None:
                raise PermanentPublishError(
                    "screen_not_on_playlist",
                    f"screen {screen} shows a layout or schedule, not a playlist: "
                    "name the playlist in the channel's config instead",
                )
            chosen.append(shown)
        if not chosen:
            raise PermanentPublishError(
                "no_playlist", "the channel names no playlist or screens to post to"
            )
        return list(dict.fromkeys(chosen))

    async def _file(self, target: Target, content: Content, url: str, tag: str) -> str:
        """The id of this post's file ``tag``: the one an earlier attempt uploaded, or new."""
        found = await self._named(target, tag)
        if found is not None and found.get("status") != "pending_upload":
            return str(found["id"])
        async with media.opened(self._client, url, RULES, allow_private=self._allow_private) as m:
            if m.length is None:
                raise PermanentPublishError(
                    "media_size_unknown",
                    f"{m.filename}: the media host did not say its size, which Yodeck's "
                    "upload needs",
                )
            if found is None:
                kind = "video" if m.content_type in VIDEOS.limits else "image"
                body = {
                    "name": f"{(content.title or m.filename)[:80]} {tag}",
                    "media_origin": {"type": kind, "source": "local"},
                }
                found = (await self._call(target, "POST", "/media/", json=body)).json()
            file_id = str(found["id"])
            upload_url = (await self._call(target, "GET", f"/media/{file_id}/upload")).json()[
                "upload_url"
            ]
            await self._upload(upload_url, m)
        await self._call(
            target, "PUT", f"/media/{file_id}/upload/complete", json={"upload_url": upload_url}
        )
        return file_id

    async def _upload(self, upload_url: str, m: media.Media) -> None:
        """The bytes, streamed to the pre-signed URL (which takes no Authorization)."""
        headers = {"Content-Type": m.content_type, "Content-Length": str(m.length)}
        await send(self._client, "PUT", upload_url, _refused, content=m.chunks(), headers=headers)

    async def _add(self, target: Target, playlist: str, files: list[str], duration: int) -> None:
        items = await self._items(target, playlist)
        present = {str(i.get("id")) for i in items if i.get("type") == "media"}
        missing = [f for f in files if f not in present]
        if not missing:
            return
        added = [{"type": "media", "id": int(f), "duration": duration} for f in missing]
        path = f"/playlists/{playlist}/"
        await self._call(target, "PATCH", path, json={"items": items + added})

    async def _items(self, target: Target, playlist: str) -> list[dict[str, Any]]:
        answer = await self._call(target, "GET", f"/playlists/{playlist}/")
        return list(answer.json().get("items") or [])

    async def _named(self, target: Target, tag: str) -> dict[str, Any] | None:
        answer = await self._call(target, "GET", "/media/", params={"search": tag})
        found = [
            m for m in answer.json().get("results", []) if str(m.get("name", "")).endswith(tag)
        ]
        return found[0] if found else None

    async def _call(self, target: Target, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else f"{self._api}{path}"
        headers = {"Authorization": f"Token {target.credentials.get('api_token', '')}"}
        return await send(self._client, method, url, _refused, headers=headers, **kwargs)


def _refused(response: httpx.Response) -> PublishError:
    error = classify_response(
        response.status_code, response.headers.get("retry-after"), datetime.now(UTC)
    )
    try:
        body = response.json()
    except ValueError:
        return error
    return explained(error, body.get("detail") if isinstance(body, dict) else None)


def _duration(value: object) -> int:
    """Seconds each file shows: the channel's ``duration_s`` (a number or digits), else 10."""
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return DEFAULT_DURATION_S


def _tag(idempotency_key: str, n: int) -> str:
    return f"[herald:{idempotency_key}:{n}]"


def _shown_playlist(screen: dict[str, Any]) -> str | None:
    shown = screen.get("screen_content") or {}
    if shown.get("source_type") != "playlist" or shown.get("source_id") is None:
        return None
    return str(shown["source_id"])
