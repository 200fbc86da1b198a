"""Connecting channels with OAuth 2 (authorization code with PKCE) through the real processes:
the API's connect and callback routes, the platforms' contract fakes as the authorization
servers, and a browser played by an HTTP client that follows what the platform answers."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.e2e.conftest import System, Tenant, eventually, remember_secrets
from tests.fakes.google_business import GoogleBusinessFake
from tests.fakes.x_api import XFake

LOCATION = "accounts/100/locations/300"


async def _connect(
    api: httpx.AsyncClient, tenant: Tenant, platform: str, body: dict[str, object]
) -> str:
    started = await api.post(f"/v1/channels/{platform}/connect", headers=tenant.auth, json=body)
    assert started.status_code == 201, started.text
    return str(started.json()["authorize_url"])


async def _consent(authorize_url: str) -> str:
    """The user consents at the platform, which sends the browser back: where to."""
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(authorize_url)
    assert answer.is_redirect, answer.text
    return answer.headers["location"]


async def _job_status(api: httpx.AsyncClient, tenant: Tenant, job_id: str) -> str:
    return str((await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()["status"])


async def _publish(api: httpx.AsyncClient, tenant: Tenant, channel_id: str, title: str) -> str:
    created = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": title, "body": "Doors open at 9.", "channel_ids": [channel_id]},
    )
    approved = await api.post(f"/v1/assets/{created.json()['id']}/approve", headers=tenant.auth)
    assert approved.status_code == 200, approved.text
    return str(approved.json()["jobs"][0]["id"])


async def test_connecting_google_makes_a_channel_that_publishes(
    api: httpx.AsyncClient, tenant: Tenant, google: GoogleBusinessFake, system: System
) -> None:
    url = await _connect(
        api, tenant, "google_business", {"name": "Downtown", "config": {"location": LOCATION}}
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{google.url}/authorize?")
    assert query["code_challenge_method"] == ["S256"]
    assert query["access_type"] == ["offline"]  # or Google sends no refresh token
    assert "code_verifier" not in url  # the verifier never leaves Herald
    callback = await _consent(url)
    assert callback.startswith(f"{system.api_url}/v1/oauth/callback/google_business?")
    async with httpx.AsyncClient() as browser:
        done = await browser.get(callback)
        replayed = await browser.get(callback)
    assert done.status_code == 200, done.text
    connected = done.json()
    assert (connected["reconnected"], connected["channel"]["auth_state"]) == (False, "ok")
    assert connected["channel"]["config"] == {"location": LOCATION}
    issued = {**google.access_tokens, **google.refresh_tokens}
    remember_secrets({f"issued-{n}": token for n, token in enumerate(issued)})  # log check too
    assert not [token for token in issued if token in done.text]  # sealed, never shown
    assert (replayed.status_code, replayed.json()["code"]) == (422, "invalid_oauth_state")

    job = await _publish(api, tenant, connected["channel"]["id"], f"Opening {uuid.uuid4().hex[:6]}")

    async def published() -> bool:
        return await _job_status(api, tenant, job) == "succeeded"

    await eventually(published, timeout=30)
    assert len(google.of(LOCATION)) >= 1


async def test_reconnecting_x_gives_the_channel_new_tokens_and_resumes_its_jobs(
    api: httpx.AsyncClient, tenant: Tenant, x_api: XFake
) -> None:
    stale = {"access_token": "revoked", "refresh_token": "spent"}
    remember_secrets(stale)
    made = await api.post(
        "/v1/channels",
        headers=tenant.auth,
        json={"platform": "x", "name": "brand", "config": {}, "credentials": stale},
    )
    channel = made.json()["id"]
    job = await _publish(api, tenant, channel, f"Launch {uuid.uuid4().hex[:6]}")

    async def parked() -> bool:
        return await _job_status(api, tenant, job) == "waiting_auth"

    await eventually(parked, timeout=30)
    callback = await _consent(await _connect(api, tenant, "x", {"channel_id": channel}))
    async with httpx.AsyncClient() as browser:
        done = await browser.get(callback)
    assert done.status_code == 200, done.text
    assert (done.json()["reconnected"], done.json()["resumed_jobs"]) == (True, 1)

    async def published() -> bool:
        return await _job_status(api, tenant, job) == "succeeded"

    await eventually(published, timeout=30)
    actions = [
        e["action"]
        for e in (
            await api.get("/v1/audit", params={"subject_id": channel}, headers=tenant.auth)
        ).json()["items"]
    ]
    assert "channel.reconnected" in actions


async def test_a_refused_consent_or_a_state_herald_never_issued_is_refused(
    api: httpx.AsyncClient, tenant: Tenant, google: GoogleBusinessFake, system: System
) -> None:
    google.consent = False
    try:
        url = await _connect(api, tenant, "google_business", {"config": {"location": LOCATION}})
        callback = await _consent(url)
    finally:
        google.consent = True
    async with httpx.AsyncClient(base_url=system.api_url) as browser:
        denied = await browser.get(callback)
        forged = await browser.get(
            "/v1/oauth/callback/google_business", params={"state": "forged", "code": "c"}
        )
    assert (denied.status_code, denied.json()["code"]) == (422, "oauth_denied")
    assert (forged.status_code, forged.json()["code"]) == (422, "invalid_oauth_state")
    not_oauth = await api.post("/v1/channels/sandbox/connect", headers=tenant.auth, json={})
    assert (not_oauth.status_code, not_oauth.json()["code"]) == (422, "not_an_oauth_platform")
    no_location = await api.post(
        "/v1/channels/google_business/connect", headers=tenant.auth, json={"config": {}}
    )
    assert (no_location.status_code, no_location.json()["code"]) == (422, "invalid_channel")
