"""The Yodeck adapter against a contract fake of Yodeck's REST API v2, over real HTTP, with its
playlist locks on real PostgreSQL."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from herald.common.db.engine import Database
from herald.publisher.adapters.platforms import yodeck
from herald.publisher.adapters.platforms.base import Content, Target
from herald.publisher.adapters.platforms.yodeck import PlaylistLocks, YodeckAdapter
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    TransientPublishError,
)
from herald.publisher.named_locks import NamedLocks
from tests.fakes.media_host import sha256_of
from tests.fakes.yodeck import TOKEN, Scripted, YodeckFake, yodeck_fake

MB = 1024 * 1024


@pytest.fixture
async def fake() -> AsyncIterator[YodeckFake]:
    async with yodeck_fake() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as running:
        yield running


@pytest.fixture
def adapter(client: httpx.AsyncClient, fake: YodeckFake, db: Database) -> YodeckAdapter:
    locks = NamedLocks(db, "test-publisher", ttl_s=10, wait_s=5)
    return YodeckAdapter(client, locks, api_url=fake.url, allow_private=True)


def target(token: str = TOKEN, **config: str) -> Target:
    return Target(config or {"playlist": "10"}, {"api_token": token})


def post(*media: str) -> Content:
    return Content("Spring menu", "Now serving", media)


def image(files: str, name: str = "menu.png", size: int = 200_000) -> str:
    return f"{files}/files/{name}?size={size}&type=image/png"


async def test_an_image_and_a_video_are_uploaded_and_added_to_the_playlist(
    adapter: YodeckAdapter, fake: YodeckFake, files: str
) -> None:
    video = f"{files}/files/promo.mp4?size=3000000&type=video/mp4"
    post_id = await adapter.publish(
        target(playlist="10", duration_s="15"), post(image(files), video), "job-1"
    )
    uploaded = [fake.files[int(i)] for i in post_id.split(",")]
    assert [(f.kind, f.size, f.status) for f in uploaded] == [
        ("image", 200_000, "processing"),
        ("video", 3_000_000, "processing"),
    ]
    assert uploaded[0].sha256 == sha256_of("menu.png", 200_000)
    assert uploaded[1].name == "Spring menu [herald:job-1:1]"
    assert fake.items(10) == [f.id for f in uploaded]
    assert {i["duration"] for i in fake.playlists[10][1]} == {15}
    assert await adapter.lookup(target(), "job-1", post(image(files), video)) == post_id


async def test_screens_get_the_media_in_the_playlist_each_shows(
    adapter: YodeckAdapter, fake: YodeckFake, files: str
) -> None:
    post_id = await adapter.publish(
        target(screens="1,2", playlist="10"), post(image(files)), "job-2"
    )
    assert fake.items(10) == fake.items(20) == [int(post_id)]
    assert fake.calls.count("PATCH /api/v2/playlists/10/") == 1, "playlist 10 once, not twice"


async def test_a_screen_showing_a_layout_is_refused_before_any_upload(
    adapter: YodeckAdapter, fake: YodeckFake, files: str
) -> None:
    with pytest.raises(PermanentPublishError, match="screen 3 shows a layout") as refused:
        await adapter.publish(target(screens="1,3"), post(image(files)), "job-3")
    assert refused.value.code == "screen_not_on_playlist"
    assert fake.files == {}


async def test_a_post_without_media_and_a_source_of_unknown_size_are_refused(
    adapter: YodeckAdapter, fake: YodeckFake, files: str
) -> None:
    with pytest.raises(PermanentPublishError) as bare:
        await adapter.publish(target(), post(), "job-4")
    assert bare.value.code == "media_required"
    chunked = f"{files}/files/menu.png?size=1000&type=image/png&undeclared=1"
    with pytest.raises(PermanentPublishError, match="did not say its size") as unknown:
        await adapter.publish(target(), post(chunked), "job-4")
    assert unknown.value.code == "media_size_unknown"
    assert fake.files == {}
    assert "POST /api/v2/media/" not in fake.calls


async def test_a_retry_after_a_failed_playlist_edit_reuses_the_upload(
    adapter: YodeckAdapter, fake: YodeckFake, files: str
) -> None:
    """The uncertain outcome: the file went up, the playlist edit failed. ``lookup`` does not
    call that a post; the retry finds the file by its key and only adds it."""
    fake.faults["PATCH /api/v2/playlists/10/"] = Scripted(503)
    with pytest.raises(TransientPublishError):
        await adapter.publish(target(), post(image(files)), "job-5")
    [file] = fake.files.values()
    assert fake.items(10) == []
    assert await adapter.lookup(target(), "job-5", post(image(files))) is None
    again = await adapter.publish(target(), post(image(files)), "job-5")
    assert again == str(file.id)
    assert len(fake.files) == 1
    assert fake.calls.count("POST /api/v2/media/") == 1
    assert fake.items(10) == [file.id]
    assert await adapter.publish(target(), post(image(files)), "job-5") == again
    assert fake.items(10) == [file.id], "an item already in the playlist is not added twice"


async def test_an_upload_made_but_not_completed_is_completed_on_retry(
    adapter: YodeckAdapter, fake: YodeckFake, files: str
) -> None:
    fake.faults["PUT /api/v2/media/5000/upload/complete"] = Scripted(502)
    with pytest.raises(TransientPublishError):
        await adapter.publish(target(), post(image(files)), "job-6")
    assert fake.files[5000].status == "pending_upload"
    assert await adapter.lookup(target(), "job-6", post(image(files))) is None
    assert await adapter.publish(target(), post(image(files)), "job-6") == "5000"
    assert fake.files[5000].status == "processing"
    assert list(fake.files) == [5000]


@asynccontextmanager
async def _unguarded(name: str) -> AsyncIterator[None]:
    yield


class NoLocks:
    def hold(self, name: str) -> AbstractAsyncContextManager[None]:
        return _unguarded(name)


@pytest.mark.parametrize("guarded", [True, False])
async def test_two_posts_to_one_playlist_at_once_both_stay_when_locked(
    client: httpx.AsyncClient, fake: YodeckFake, db: Database, files: str, guarded: bool
) -> None:
    """A playlist is written whole: two unguarded edits that read it at once lose one item
    (the fake shows that it can), the playlist lock keeps both."""
    locks: PlaylistLocks = NamedLocks(db, "p", ttl_s=10, wait_s=5) if guarded else NoLocks()
    adapter = YodeckAdapter(client, locks, api_url=fake.url, allow_private=True)
    fake.read_delay_s = 0.3
    await asyncio.gather(
        adapter.publish(target(), post(image(files, "a.png")), "job-7a"),
        adapter.publish(target(), post(image(files, "b.png")), "job-7b"),
    )
    assert len(fake.items(10)) == (2 if guarded else 1)


async def test_a_refused_token_is_an_auth_error_for_publish_and_verify(
    adapter: YodeckAdapter, fake: YodeckFake, files: str
) -> None:
    with pytest.raises(AuthExpiredError, match="Invalid token"):
        await adapter.publish(target("herald:revoked"), post(image(files)), "job-8")
    with pytest.raises(AuthExpiredError):
        await adapter.verify(target("herald:revoked"))
    assert await adapter.verify(target(screens="1,2")) == "Lobby loop (10), Cafe menu (20)"


async def test_429_waits_for_retry_after(
    adapter: YodeckAdapter, fake: YodeckFake, files: str
) -> None:
    fake.script.append(Scripted(429, retry_after="37", detail="Request was throttled."))
    with pytest.raises(TransientPublishError, match="throttled") as limited:
        await adapter.publish(target(), post(image(files)), "job-9")
    assert (limited.value.code, limited.value.retry_after_s) == ("rate_limited", 37.0)


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (503, TransientPublishError, "http_503"),
        (400, PermanentPublishError, "http_400"),
        (403, PermanentPublishError, "http_403"),
    ],
)
async def test_each_error_class(
    adapter: YodeckAdapter,
    fake: YodeckFake,
    files: str,
    status: int,
    error: type[Exception],
    code: str,
) -> None:
    fake.script.append(Scripted(status, detail="You do not have permission."))
    with pytest.raises(error, match="You do not have permission") as raised:
        await adapter.publish(target(), post(image(files)), "job-10")
    assert getattr(raised.value, "code", None) == code


async def test_the_inventory_reads_every_page(
    adapter: YodeckAdapter, fake: YodeckFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yodeck, "PAGE", 2)
    pages = 0

    async def page_done() -> None:
        nonlocal pages
        pages += 1

    found = await adapter.inventory(target(), page_done)
    assert [(s["id"], s["name"], s["playlist"]) for s in found.screens] == [
        ("1", "Lobby", "10"),
        ("2", "Cafe", "20"),
        ("3", "Window", None),
    ]
    assert [p["name"] for p in found.playlists] == ["Lobby loop", "Cafe menu"]
    assert pages == 3  # screens in two pages, playlists in one


async def test_a_large_video_is_streamed(
    adapter: YodeckAdapter, fake: YodeckFake, files: str
) -> None:
    """A 120 MB video goes from the media host to the upload URL without the process (host,
    adapter and fake, all here) holding more than a few chunks."""
    size = 120 * MB
    video = f"{files}/files/launch.mp4?size={size}&type=video/mp4"
    tracemalloc.start()
    try:
        post_id = await adapter.publish(target(), post(video), "job-11")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    uploaded = fake.files[int(post_id)]
    assert (uploaded.size, uploaded.sha256) == (size, sha256_of("launch.mp4", size))
    assert peak < 16 * MB, f"peak {peak / MB:.1f} MB for a {size / MB:.0f} MB upload"


async def test_a_page_that_leads_to_another_host_is_not_followed(
    adapter: YodeckAdapter, fake: YodeckFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token goes with every page: a ``next`` of another origin is refused, unasked."""
    monkeypatch.setattr(yodeck, "PAGE", 2)
    fake.page_base = "http://169.254.169.254"

    async def page_done() -> None:
        return None

    with pytest.raises(PermanentPublishError) as refused:
        await adapter.inventory(target(), page_done)
    assert refused.value.code == "foreign_page"
    assert fake.calls == ["GET /api/v2/screens/"]
