"""One asset to a channel of every platform Herald speaks, through the real processes; each
platform is a contract fake of its documented API (the sandbox is our own)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from herald.common.webhooks import new_secret
from tests.e2e.conftest import Tenant, eventually, make_channel, remember_secrets
from tests.fakes.google_business import GoogleBusinessFake
from tests.fakes.linkedin import ORGANIZATION, LinkedInFake
from tests.fakes.mastodon import MastodonFake, mastodon_fake
from tests.fakes.media_host import media_host, sha256_of
from tests.fakes.x_api import XFake
from tests.fakes.yodeck import TOKEN as YODECK_TOKEN
from tests.fakes.yodeck import YodeckFake
from tests.webhook_receiver import webhook_receiver

LOCATION = "accounts/100/locations/200"


@pytest.fixture
async def mastodon() -> AsyncIterator[MastodonFake]:
    async with mastodon_fake() as fake:
        yield fake


@pytest.fixture
async def files() -> AsyncIterator[str]:
    async with media_host() as base:
        yield base


async def _channel(
    api: httpx.AsyncClient,
    tenant: Tenant,
    platform: str,
    config: dict[str, str],
    credentials: dict[str, str],
) -> str:
    remember_secrets(credentials)
    response = await api.post(
        "/v1/channels",
        headers=tenant.auth,
        json={"platform": platform, "name": platform, "config": config, "credentials": credentials},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _mastodon_channel(
    api: httpx.AsyncClient, tenant: Tenant, fake: MastodonFake, token: str
) -> str:
    remember_secrets({"access_token": token})
    response = await api.post(
        "/v1/channels",
        headers=tenant.auth,
        json={
            "platform": "mastodon",
            "name": "brand account",
            "config": {"instance_url": fake.url},
            "credentials": {"access_token": token},
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _publish(
    api: httpx.AsyncClient, tenant: Tenant, channels: list[str], media: list[str]
) -> dict[str, str]:
    """Create and approve an asset; its job ids by channel."""
    created = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={
            "title": "Grand opening",
            "body": "Doors open at 9.",
            "channel_ids": channels,
            "media": [{"url": url} for url in media],
        },
    )
    assert created.status_code == 201, created.text
    approved = await api.post(f"/v1/assets/{created.json()['id']}/approve", headers=tenant.auth)
    assert approved.status_code == 200, approved.text
    return {job["channel_id"]: job["id"] for job in approved.json()["jobs"]}


async def _status(api: httpx.AsyncClient, tenant: Tenant, job_id: str) -> dict[str, object]:
    job: dict[str, object] = (await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()
    return job


async def test_one_asset_reaches_a_channel_of_every_platform(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    tenant: Tenant,
    mastodon: MastodonFake,
    google: GoogleBusinessFake,
    x_api: XFake,
    linkedin: LinkedInFake,
    yodeck: YodeckFake,
    files: str,
) -> None:
    """The Google and X channels' access tokens are stale: the publisher refreshes them on
    the way (X's refresh token rotates, and the new one is stored)."""
    platforms = {p["name"] for p in (await api.get("/v1/platforms", headers=tenant.auth)).json()}
    account = f"lobby-{uuid.uuid4().hex[:6]}"
    secret = new_secret()
    refreshes = google.refreshes
    x_refresh = next(iter(x_api.refresh_tokens))
    async with webhook_receiver() as receiver:
        channels = {
            "sandbox": await make_channel(api, tenant, account),
            "mastodon": await _mastodon_channel(api, tenant, mastodon, "good-token"),
            "google_business": await _channel(
                api,
                tenant,
                "google_business",
                {"location": LOCATION},
                {"access_token": "ya29.stale", "refresh_token": "refresh-1"},
            ),
            "x": await _channel(
                api, tenant, "x", {}, {"access_token": "stale", "refresh_token": x_refresh}
            ),
            "linkedin": await _channel(
                api, tenant, "linkedin", {"author": ORGANIZATION}, {"access_token": linkedin.mint()}
            ),
            "webhook": await _channel(
                api, tenant, "webhook", {"url": receiver.url}, {"secret": secret}
            ),
            "yodeck": await _channel(
                api, tenant, "yodeck", {"screens": "2"}, {"api_token": YODECK_TOKEN}
            ),
        }
        assert set(channels) == platforms  # a new platform needs its place in this test
        poster = f"{files}/files/poster.png?size=250000&type=image/png"
        jobs = await _publish(api, tenant, list(channels.values()), [poster])

        async def all_succeeded() -> list[object]:
            states = [(await _status(api, tenant, j))["status"] for j in jobs.values()]
            return states if set(states) == {"succeeded"} else []

        await eventually(all_succeeded, timeout=30)
    external = {
        platform: (await _status(api, tenant, jobs[channel]))["external_id"]
        for platform, channel in channels.items()
    }
    [status] = mastodon.of("herald")
    [upload] = [mastodon.media[m] for m in status.media_ids]
    assert upload.sha256 == sha256_of("poster.png", 250000)
    assert external["mastodon"] == status.id
    assert status.idempotency_key == jobs[channels["mastodon"]]
    [local_post] = [p for p in google.of(LOCATION) if p.media[0]["sourceUrl"] == poster]
    assert external["google_business"] == local_post.name
    assert google.refreshes == refreshes + 1
    [tweet] = [t for t in x_api.tweets if t.id == external["x"]]
    assert tweet.text == "Grand opening\n\nDoors open at 9."
    assert x_refresh not in x_api.refresh_tokens  # spent; its successor is stored sealed
    [share] = [p for p in linkedin.posts if p.urn == external["linkedin"]]
    assert [linkedin.images[i].size for i in share.images] == [250000]
    [hook] = receiver.received
    assert hook.verifies_with(secret)
    assert hook.webhook_id == external["webhook"] == jobs[channels["webhook"]]
    assert hook.json["data"]["media"] == [{"url": poster}]
    posts = (await sandbox.get("/posts", params={"account": account})).json()
    assert [p["idempotency_key"] for p in posts] == [jobs[channels["sandbox"]]]
    signage = yodeck.files[int(str(external["yodeck"]))]  # the playlist screen 2 shows
    assert (signage.sha256, signage.status) == (sha256_of("poster.png", 250000), "processing")
    assert signage.id in yodeck.items(20)


async def test_a_signage_channel_lists_its_screens_and_playlists(
    api: httpx.AsyncClient, tenant: Tenant, yodeck: YodeckFake
) -> None:
    """The publishers sync the account every second here (every five minutes by default)."""
    channel = await _channel(api, tenant, "yodeck", {"playlist": "10"}, {"api_token": YODECK_TOKEN})

    async def synced() -> dict[str, Any] | None:
        answer = await api.get(f"/v1/channels/{channel}/inventory", headers=tenant.auth)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body if body["synced_at"] else None

    await eventually(synced, timeout=30)
    inventory = await synced()
    assert inventory is not None
    assert inventory["screens"] == [
        {"id": "1", "name": "Lobby", "online": True, "playlist": "10"},
        {"id": "2", "name": "Cafe", "online": True, "playlist": "20"},
        {"id": "3", "name": "Window", "online": True, "playlist": None},
    ]
    assert [p["name"] for p in inventory["playlists"]] == ["Lobby loop", "Cafe menu"]
    assert inventory["error"] is None
    plain = await make_channel(api, tenant, f"lobby-{uuid.uuid4().hex[:6]}")
    refused = await api.get(f"/v1/channels/{plain}/inventory", headers=tenant.auth)
    assert (refused.status_code, refused.json()["code"]) == (409, "inventory_unsupported")


async def test_a_refused_mastodon_token_parks_the_job_until_new_credentials_arrive(
    api: httpx.AsyncClient, tenant: Tenant, mastodon: MastodonFake
) -> None:
    channel = await _mastodon_channel(api, tenant, mastodon, "revoked-token")
    job_id = (await _publish(api, tenant, [channel], []))[channel]

    async def parked() -> bool:
        return (await _status(api, tenant, job_id))["status"] == "waiting_auth"

    await eventually(parked, timeout=30)
    state = (await api.get(f"/v1/channels/{channel}", headers=tenant.auth)).json()["auth_state"]
    assert state == "reauth_required"
    assert mastodon.statuses == []
    fixed = await api.patch(
        f"/v1/channels/{channel}",
        headers=tenant.auth,
        json={"credentials": {"access_token": "good-token"}},
    )
    assert fixed.status_code == 200, fixed.text

    async def published() -> bool:
        return (await _status(api, tenant, job_id))["status"] == "succeeded"

    await eventually(published, timeout=30)
    assert len(mastodon.of("herald")) == 1


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "config.instance_url is required for mastodon"),
        ({"instance_url": "ftp://social.example"}, "the scheme must be http or https"),
    ],
)
async def test_a_mastodon_channel_needs_an_http_instance_url(
    api: httpx.AsyncClient, tenant: Tenant, config: dict[str, str], expected: str
) -> None:
    response = await api.post(
        "/v1/channels",
        headers=tenant.auth,
        json={
            "platform": "mastodon",
            "name": "x",
            "config": config,
            "credentials": {"access_token": "t"},
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_channel"
    assert expected in response.json()["detail"]


async def _verify(api: httpx.AsyncClient, tenant: Tenant, channel: str) -> dict[str, object]:
    response = await api.post(f"/v1/channels/{channel}/verify", headers=tenant.auth)
    assert response.status_code == 200, response.text
    checked: dict[str, object] = response.json()
    return checked


async def test_verify_asks_each_platform_through_a_publisher(
    api: httpx.AsyncClient, tenant: Tenant, mastodon: MastodonFake, x_api: XFake
) -> None:
    lobby = await make_channel(api, tenant, f"lobby-{uuid.uuid4().hex[:6]}")
    checked = await _verify(api, tenant, lobby)
    assert (checked["outcome"], checked["account"]) == ("ok", checked["channel"]["name"])  # type: ignore[index]
    toot = await _mastodon_channel(api, tenant, mastodon, "good-token")
    assert (await _verify(api, tenant, toot))["account"] == "@herald"
    x_channel = await _channel(
        api, tenant, "x", {}, {"access_token": x_api.mint(), "refresh_token": "unused"}
    )
    assert (await _verify(api, tenant, x_channel))["account"] == "@heraldbrand"


async def test_a_refused_verification_marks_the_channel_and_a_passing_one_resumes_its_jobs(
    api: httpx.AsyncClient, tenant: Tenant, mastodon: MastodonFake
) -> None:
    channel = await _mastodon_channel(api, tenant, mastodon, "suspended-token")
    refused = await _verify(api, tenant, channel)
    assert (refused["outcome"], refused["error_code"]) == ("refused", "unauthorized")
    assert refused["channel"]["auth_state"] == "reauth_required"  # type: ignore[index]
    job_id = (await _publish(api, tenant, [channel], []))[channel]

    async def parked() -> bool:
        return (await _status(api, tenant, job_id))["status"] == "waiting_auth"

    await eventually(parked, timeout=30)
    mastodon.tokens["suspended-token"] = "herald"  # the instance lifts the suspension
    passed = await _verify(api, tenant, channel)
    assert (passed["outcome"], passed["resumed_jobs"]) == ("ok", 1)
    assert passed["channel"]["auth_state"] == "ok"  # type: ignore[index]

    async def published() -> bool:
        return (await _status(api, tenant, job_id))["status"] == "succeeded"

    await eventually(published, timeout=30)
    audit = await api.get(
        "/v1/audit",
        params={"subject_id": channel, "action": "channel.verified"},
        headers=tenant.auth,
    )
    outcomes = [e["details"]["outcome"] for e in audit.json()["items"]]
    assert sorted(outcomes) == ["ok", "refused"]


async def test_refresh_gets_new_tokens_now_where_there_are_tokens(
    api: httpx.AsyncClient, tenant: Tenant, google: GoogleBusinessFake, x_api: XFake
) -> None:
    before = google.refreshes
    channel = await _channel(
        api,
        tenant,
        "google_business",
        {"location": LOCATION},
        {"access_token": google.mint(), "refresh_token": "refresh-1"},
    )
    response = await api.post(f"/v1/channels/{channel}/refresh", headers=tenant.auth)
    assert response.status_code == 200, response.text
    refreshed = response.json()
    assert (refreshed["outcome"], google.refreshes) == ("ok", before + 1)
    assert refreshed["token_expires_at"] is not None
    lobby = await make_channel(api, tenant, f"lobby-{uuid.uuid4().hex[:6]}")
    plain = await api.post(f"/v1/channels/{lobby}/refresh", headers=tenant.auth)
    assert plain.json()["outcome"] == "unsupported"
    spent = await _channel(
        api, tenant, "x", {}, {"access_token": x_api.mint(), "refresh_token": "spent-long-ago"}
    )
    refused = (await api.post(f"/v1/channels/{spent}/refresh", headers=tenant.auth)).json()
    assert (refused["outcome"], refused["error_code"]) == ("refused", "invalid_grant")
    assert refused["channel"]["auth_state"] == "reauth_required"


async def test_a_platform_answer_the_adapter_cannot_read_is_a_verdict_not_a_timeout(
    api: httpx.AsyncClient, tenant: Tenant, x_api: XFake
) -> None:
    """A 200 without the documented body (a proxy's page, say) crashes the adapter's reading:
    the publisher still answers, and the API does not wait out its deadline for a 503."""
    channel = await _channel(
        api, tenant, "x", {}, {"access_token": x_api.mint(), "refresh_token": "unused"}
    )
    x_api.script.append((200, None))
    started = time.monotonic()
    checked = await _verify(api, tenant, channel)
    assert (checked["outcome"], checked["error_code"]) == ("unreachable", "adapter_error")
    assert time.monotonic() - started < 10
    assert checked["channel"]["auth_state"] == "ok"  # type: ignore[index]
