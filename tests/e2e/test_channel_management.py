"""Channel management through the HTTP API: edit, re-authorize, disconnect, delete.

Credentials are write-only: whatever a test gives a channel never comes back in a response
(nor in the services' logs); new credentials resume the jobs that waited for them.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from herald.common.db.engine import Database
from herald.common.db.models import Channel
from tests.e2e.conftest import OPERATOR_TOKEN, System, Tenant, eventually, make_channel
from tests.e2e.test_api_errors import assert_problem


def _account(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _token() -> str:
    return f"tok-{uuid.uuid4().hex}"


async def _approved_job(api: httpx.AsyncClient, tenant: Tenant, channel: str) -> str:
    asset = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "t", "body": "channel management", "channel_ids": [channel]},
    )
    assert asset.status_code == 201, asset.text
    approved = await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)
    assert approved.status_code == 200, approved.text
    return str(approved.json()["jobs"][0]["id"])


async def _job(api: httpx.AsyncClient, tenant: Tenant, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await api.get(f"/v1/jobs/{job_id}", headers=tenant.auth)).json()
    return body


async def _status_becomes(
    api: httpx.AsyncClient, tenant: Tenant, job_id: str, status: str
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def check() -> bool:
        seen.update(await _job(api, tenant, job_id))
        return bool(seen["status"] == status)

    await eventually(check, timeout=30, interval=0.05)
    return seen


async def _posts(sandbox: httpx.AsyncClient, account: str) -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = (await sandbox.get("/posts", params={"account": account})).json()
    return posts


async def _audit(api: httpx.AsyncClient, tenant: Tenant, channel: str) -> list[dict[str, Any]]:
    page = await api.get("/v1/audit", headers=tenant.auth, params={"subject_id": channel})
    assert page.status_code == 200, page.text
    return list(reversed(page.json()["items"]))  # oldest first


async def _other_tenant(api: httpx.AsyncClient) -> Tenant:
    made = await api.post(
        "/v1/tenants", json={"name": "b"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    assert made.status_code == 201, made.text
    return Tenant(made.json()["tenant"]["id"], made.json()["api_key"])


async def test_a_patch_changes_name_and_config_and_never_returns_credentials(
    api: httpx.AsyncClient, tenant: Tenant, system: System
) -> None:
    first, second = _token(), _token()
    account = _account("patch")
    channel = await make_channel(api, tenant, account, token=first)
    url = f"/v1/channels/{channel}"
    responses = []

    renamed = await api.patch(url, headers=tenant.auth, json={"name": "Lobby screen"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["config"]) == (
        "Lobby screen",
        {"account": account},
    )
    moved = await api.patch(url, headers=tenant.auth, json={"config": {"account": account + "x"}})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["name"], moved.json()["config"]) == (
        "Lobby screen",
        {"account": account + "x"},
    )
    rekeyed = await api.patch(url, headers=tenant.auth, json={"credentials": {"token": second}})
    assert (rekeyed.status_code, rekeyed.json()["auth_state"]) == (200, "ok")
    refused = await api.patch(
        url, headers=tenant.auth, json={"credentials": {"token": second}, "colour": "red"}
    )
    assert_problem(refused, 422, "validation_error")
    responses += [renamed, moved, rekeyed, refused]
    responses += [
        await api.get(url, headers=tenant.auth),
        await api.get("/v1/channels", headers=tenant.auth),
        await api.get("/v1/audit", headers=tenant.auth, params={"subject_id": channel}),
    ]
    for response in responses:
        assert first not in response.text and second not in response.text
        assert "credentials_ciphertext" not in response.text
    assert all(token not in system.log_file.read_text() for token in (first, second))

    events = await _audit(api, tenant, channel)
    assert [(e["action"], e["details"]) for e in events] == [
        ("channel.created", {"platform": "sandbox"}),
        ("channel.updated", {"fields": ["name"]}),
        ("channel.updated", {"fields": ["config"]}),
        ("channel.updated", {"fields": ["credentials"]}),
    ]


async def test_new_credentials_resume_the_parked_jobs_of_a_reauth_required_channel(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = _account("reauth")
    channel = await make_channel(api, tenant, account, token="expired")  # the sandbox: 401
    job = await _approved_job(api, tenant, channel)
    await _status_becomes(api, tenant, job, "waiting_auth")
    # marked by the publisher in the transaction that parked the job
    shown = await api.get(f"/v1/channels/{channel}", headers=tenant.auth)
    assert shown.json()["auth_state"] == "reauth_required"
    assert await _posts(sandbox, account) == []

    fresh = _token()
    patched = await api.patch(
        f"/v1/channels/{channel}", headers=tenant.auth, json={"credentials": {"token": fresh}}
    )
    assert (patched.status_code, patched.json()["auth_state"]) == (200, "ok")
    assert fresh not in patched.text

    done = await _status_becomes(api, tenant, job, "succeeded")
    assert [(a["outcome"], a["error_class"]) for a in done["attempts"]] == [
        ("failed", "auth"),
        ("succeeded", None),
    ]
    assert done["attempts"][0]["http_status"] == 401
    (post,) = await _posts(sandbox, account)
    assert (post["idempotency_key"], post["deliveries"]) == (job, 1)
    (updated,) = [e for e in await _audit(api, tenant, channel) if e["action"] != "channel.created"]
    assert updated["details"] == {"fields": ["auth_state", "credentials"]}


async def test_a_disconnected_channels_jobs_wait_for_auth_until_new_credentials_come(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, e2e_db: Database
) -> None:
    account = _account("disc")
    channel = await make_channel(api, tenant, account)
    disconnected = await api.post(f"/v1/channels/{channel}/disconnect", headers=tenant.auth)
    assert (disconnected.status_code, disconnected.json()["auth_state"]) == (200, "disconnected")
    async with e2e_db.transaction() as session:
        row = await session.scalar(select(Channel).where(Channel.id == uuid.UUID(channel)))
    assert row is not None
    assert (row.credentials_ciphertext, row.credentials_key_id) == (None, None)
    again = await api.post(f"/v1/channels/{channel}/disconnect", headers=tenant.auth)
    assert again.status_code == 200  # harmless

    job = await _approved_job(api, tenant, channel)
    parked = await _status_becomes(api, tenant, job, "waiting_auth")
    assert [(a["outcome"], a["error_code"]) for a in parked["attempts"]] == [
        ("failed", "channel_disconnected")
    ]
    assert await _posts(sandbox, account) == []  # the platform was never called without them

    patched = await api.patch(
        f"/v1/channels/{channel}", headers=tenant.auth, json={"credentials": {"token": _token()}}
    )
    assert (patched.status_code, patched.json()["auth_state"]) == (200, "ok")
    await _status_becomes(api, tenant, job, "succeeded")
    assert [p["idempotency_key"] for p in await _posts(sandbox, account)] == [job]
    actions = [e["action"] for e in await _audit(api, tenant, channel)]
    assert actions == [
        "channel.created",
        "channel.disconnected",
        "channel.disconnected",
        "channel.updated",
    ]


async def test_a_channel_with_jobs_is_not_deleted_one_without_is(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    used = await make_channel(api, tenant, _account("used"))
    await _approved_job(api, tenant, used)
    refused = assert_problem(
        await api.delete(f"/v1/channels/{used}", headers=tenant.auth), 409, "channel_in_use"
    )
    assert "disconnect it instead" in str(refused["detail"])
    assert (await api.get(f"/v1/channels/{used}", headers=tenant.auth)).status_code == 200

    unused = await make_channel(api, tenant, _account("unused"))
    deleted = await api.delete(f"/v1/channels/{unused}", headers=tenant.auth)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_problem(
        await api.get(f"/v1/channels/{unused}", headers=tenant.auth), 404, "channel_not_found"
    )
    assert_problem(
        await api.delete(f"/v1/channels/{unused}", headers=tenant.auth), 404, "channel_not_found"
    )
    listed = (await api.get("/v1/channels", headers=tenant.auth)).json()["items"]
    assert unused not in {c["id"] for c in listed}
    assert [e["action"] for e in await _audit(api, tenant, unused)] == [
        "channel.created",
        "channel.deleted",
    ]


async def test_another_tenant_can_neither_change_disconnect_nor_delete_my_channel(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    channel = await make_channel(api, tenant, _account("mine"))
    before = (await api.get(f"/v1/channels/{channel}", headers=tenant.auth)).json()
    other = await _other_tenant(api)
    url = f"/v1/channels/{channel}"
    for response in (
        await api.patch(url, headers=other.auth, json={"name": "theirs"}),
        await api.patch(url, headers=other.auth, json={"credentials": {"token": "t"}}),
        await api.post(f"{url}/disconnect", headers=other.auth),
        await api.delete(url, headers=other.auth),
    ):
        assert_problem(response, 404, "channel_not_found")
    assert (await api.get(url, headers=tenant.auth)).json() == before
    assert [e["action"] for e in await _audit(api, tenant, channel)] == ["channel.created"]


async def test_invalid_changes_are_problems(api: httpx.AsyncClient, tenant: Tenant) -> None:
    channel = await make_channel(api, tenant, _account("invalid"))
    url = f"/v1/channels/{channel}"
    invalid: list[dict[str, Any]] = [
        {},
        {"name": ""},
        {"name": None},
        {"credentials": None},
        {"platform": "x"},
    ]
    for body in invalid:
        assert_problem(
            await api.patch(url, headers=tenant.auth, json=body), 422, "validation_error"
        )
    incomplete: list[dict[str, Any]] = [
        {"config": {}},
        {"credentials": {}},
        {"credentials": {"token": ""}},
    ]
    for body in incomplete:
        assert_problem(await api.patch(url, headers=tenant.auth, json=body), 422, "invalid_channel")
    malformed = await api.patch(
        url, headers={**tenant.auth, "Content-Type": "application/json"}, content=b"{"
    )
    assert_problem(malformed, 400, "malformed_json")
    missing = f"/v1/channels/{uuid.uuid4()}"
    assert_problem(
        await api.patch(missing, headers=tenant.auth, json={"name": "n"}), 404, "channel_not_found"
    )
    assert_problem(
        await api.post(f"{missing}/disconnect", headers=tenant.auth), 404, "channel_not_found"
    )
    assert_problem(
        await api.patch("/v1/channels/nope", headers=tenant.auth, json={"name": "n"}),
        422,
        "validation_error",
    )
    assert [e["action"] for e in await _audit(api, tenant, channel)] == ["channel.created"]


async def test_channels_come_in_keyset_pages_newest_first(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = [await make_channel(api, tenant, _account("page")) for _ in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await api.get("/v1/channels", headers=tenant.auth, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 2
        seen += [c["id"] for c in body["items"]]
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    assert seen == made[::-1]  # every channel once, the newest first
    other = await api.get("/v1/channels", headers=tenant.auth, params={"platform": "mastodon"})
    assert other.json() == {"items": [], "next_cursor": None}
    assert_problem(
        await api.get("/v1/channels", headers=tenant.auth, params={"limit": 101}),
        422,
        "validation_error",
    )
