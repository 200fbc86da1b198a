"""The Mastodon adapter against a contract fake of Mastodon's REST API, over real HTTP."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest

from herald.publisher.adapters.platforms.base import Content, Target
from herald.publisher.adapters.platforms.mastodon import MastodonAdapter
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    TransientPublishError,
)
from tests.fakes.mastodon import MastodonFake, Scripted, mastodon_fake
from tests.fakes.media_host import sha256_of

MB = 1024 * 1024


@pytest.fixture
async def fake() -> AsyncIterator[MastodonFake]:
    async with mastodon_fake() as running:
        yield running


@pytest.fixture
async def adapter() -> AsyncIterator[MastodonAdapter]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield MastodonAdapter(client, allow_private=True)


def target(fake: MastodonFake, token: str = "good-token") -> Target:  # noqa: S107
    return Target({"instance_url": fake.url}, {"access_token": token})


def post(*media: str, body: str = "Doors open at 9.") -> Content:
    return Content("Grand opening", body, media)


async def test_a_status_with_an_image_and_a_video_waits_for_processing(
    adapter: MastodonAdapter, fake: MastodonFake, files: str
) -> None:
    image = f"{files}/files/poster.png?size=300000&type=image/png"
    video = f"{files}/files/clip.mp4?size=2000000&type=video/mp4"
    status_id = await adapter.publish(target(fake), post(image, video), "job-1")
    [status] = fake.of("herald")
    assert status.id == status_id
    assert status.text == "Grand opening\n\nDoors open at 9."
    uploads = [fake.media[m] for m in status.media_ids]
    assert [(u.type, u.size) for u in uploads] == [("image/png", 300000), ("video/mp4", 2000000)]
    assert uploads[0].sha256 == sha256_of("poster.png", 300000)
    assert fake.calls.count("GET /api/v1/media/" + uploads[1].id) == 3  # 206, 206, 200


async def test_a_retry_with_the_same_key_gets_the_first_status(
    adapter: MastodonAdapter, fake: MastodonFake
) -> None:
    """What reconciles an uncertain attempt: Mastodon has no lookup by key, and a repeat of
    the key returns the status already made."""
    first = await adapter.publish(target(fake), post(), "job-2")
    assert await adapter.lookup(target(fake), "job-2", post()) is None
    again = await adapter.publish(target(fake), post(), "job-2")
    assert again == first
    [status] = fake.of("herald")
    assert status.deliveries == 2


async def test_a_refused_token_is_an_auth_error_for_publish_and_verify(
    adapter: MastodonAdapter, fake: MastodonFake
) -> None:
    with pytest.raises(AuthExpiredError, match="access token is invalid") as refused:
        await adapter.publish(target(fake, "revoked"), post(), "job-3")
    assert refused.value.http_status == 401
    with pytest.raises(AuthExpiredError):
        await adapter.verify(target(fake, "revoked"))
    assert await adapter.verify(target(fake)) == "@herald"
    assert fake.statuses == []


async def test_429_waits_until_the_rate_limit_window_resets(
    adapter: MastodonAdapter, fake: MastodonFake
) -> None:
    fake.script.append(Scripted(429, retry_after=42))
    with pytest.raises(TransientPublishError) as limited:
        await adapter.publish(target(fake), post(), "job-4")
    assert limited.value.code == "rate_limited"
    assert limited.value.retry_after_s is not None
    assert 40 <= limited.value.retry_after_s <= 43


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (503, TransientPublishError, "http_503"),
        (500, TransientPublishError, "http_500"),
        (422, PermanentPublishError, "http_422"),
        (403, PermanentPublishError, "http_403"),
    ],
)
async def test_each_error_class(
    adapter: MastodonAdapter,
    fake: MastodonFake,
    status: int,
    error: type[Exception],
    code: str,
) -> None:
    fake.script.append(Scripted(status, error="Validation failed: nope"))
    with pytest.raises(error) as raised:
        await adapter.publish(target(fake), post(), "job-5")
    assert getattr(raised.value, "code", None) == code
    assert "Validation failed: nope" in str(raised.value)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("size=1000&type=application/x-msdownload", "media_unsupported_type"),
        ("size=20000000&type=image/png", "media_too_large"),  # declared: refused before upload
        ("size=20000000&type=image/png&undeclared=1", "media_too_large"),  # counted: cut off
    ],
)
async def test_media_the_platform_cannot_take_fails_permanently_before_it_is_attached(
    adapter: MastodonAdapter, fake: MastodonFake, files: str, query: str, code: str
) -> None:
    with pytest.raises(PermanentPublishError) as refused:
        await adapter.publish(target(fake), post(f"{files}/files/big.png?{query}"), "job-6")
    assert refused.value.code == code
    assert "big.png" in refused.value.message
    assert fake.media == {}
    assert fake.statuses == []


async def test_text_over_the_instance_limit_fails_before_any_call(
    adapter: MastodonAdapter, fake: MastodonFake
) -> None:
    with pytest.raises(PermanentPublishError) as refused:
        await adapter.publish(target(fake), post(body="x" * 600), "job-7")
    assert refused.value.code == "text_too_long"
    assert fake.calls == []


async def test_a_private_instance_is_refused_unless_allowed(fake: MastodonFake) -> None:
    async with httpx.AsyncClient() as client:
        guarded = MastodonAdapter(client, allow_private=False)
        with pytest.raises(PermanentPublishError) as refused:
            await guarded.publish(target(fake), post(), "job-8")
    assert refused.value.code == "instance_url_forbidden"
    assert fake.calls == []


async def test_a_video_larger_than_memory_should_hold_is_streamed(
    adapter: MastodonAdapter, fake: MastodonFake, files: str
) -> None:
    """90 MB go from the media host through the adapter to the instance; Python's allocations
    (the host, the adapter and the fake, all in this process) peak far below the file."""
    size = 90 * MB
    video = f"{files}/files/launch.mp4?size={size}&type=video/mp4&undeclared=1"
    tracemalloc.start()
    try:
        await adapter.publish(target(fake), post(video), "job-9")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [status] = fake.of("herald")
    [upload] = [fake.media[m] for m in status.media_ids]
    assert (upload.size, upload.sha256) == (size, sha256_of("launch.mp4", size))
    assert peak < 16 * MB, f"peak {peak / MB:.1f} MB for a {size / MB:.0f} MB upload"
