"""The review workflow through the HTTP API: roles, reasons, edits, publication, audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.conftest import Tenant, eventually, make_channel
from tests.e2e.test_api_errors import assert_problem


async def key_for(api: httpx.AsyncClient, admin: Tenant, role: str) -> Tenant:
    response = await api.post(
        "/v1/api-keys", headers=admin.auth, json={"name": f"{role} key", "role": role}
    )
    assert response.status_code == 201, response.text
    return Tenant(admin.id, response.json()["api_key"])


async def new_asset(
    api: httpx.AsyncClient, editor: Tenant, channels: list[str], **extra: Any
) -> dict[str, Any]:
    response = await api.post(
        "/v1/assets",
        headers=editor.auth,
        json={"title": "Opening hours", "body": "9 to 5", "channel_ids": channels, **extra},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_submit_reject_edit_resubmit_approve_publish(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    editor, reviewer = await key_for(api, tenant, "editor"), await key_for(api, tenant, "reviewer")
    accounts = [f"review-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    channels = [await make_channel(api, tenant, account) for account in accounts]
    asset = await new_asset(api, editor, channels)
    assert (asset["status"], asset["created_by"]) == ("draft", asset["created_by"])
    url = f"/v1/assets/{asset['id']}"

    assert_problem(await api.post(f"{url}/approve", headers=editor.auth), 403, "forbidden")
    assert_problem(await api.post(f"{url}/submit", headers=reviewer.auth), 403, "forbidden")
    submitted = await api.post(f"{url}/submit", headers=editor.auth)
    assert submitted.json()["status"] == "submitted", submitted.text
    assert_problem(
        await api.post(f"{url}/submit", headers=editor.auth), 409, "asset_not_submittable"
    )

    no_reason = await api.post(f"{url}/reject", headers=reviewer.auth, json={})
    assert_problem(no_reason, 422, "validation_error")
    rejected = await api.post(f"{url}/reject", headers=reviewer.auth, json={"reason": "typo"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "typo"
    assert_problem(
        await api.post(f"{url}/approve", headers=reviewer.auth), 409, "asset_not_approvable"
    )

    edited = await api.patch(url, headers=editor.auth, json={"body": "9 to 6"})
    assert (edited.json()["status"], edited.json()["body"]) == ("rejected", "9 to 6"), edited.text
    assert (await api.post(f"{url}/submit", headers=editor.auth)).json()["status"] == "submitted"
    approved = await api.post(f"{url}/approve", headers=reviewer.auth)
    assert approved.status_code == 200, approved.text
    assert approved.json()["review_status"] == "approved"
    assert approved.json()["rejection_reason"] is None
    assert len(approved.json()["jobs"]) == 2

    async def published() -> bool:
        shown: dict[str, Any] = (await api.get(url, headers=editor.auth)).json()
        return bool(shown["status"] == "published")

    await eventually(published)
    for account in accounts:
        posts = (await sandbox.get("/posts", params={"account": account})).json()
        assert len(posts) == 1 and posts[0]["body"].endswith("9 to 6"), posts  # the edit
    late_edit = await api.patch(url, headers=editor.auth, json={"body": "too late"})
    assert_problem(late_edit, 409, "asset_not_editable")

    log = await api.get("/v1/audit", headers=reviewer.auth, params={"subject_id": asset["id"]})
    assert log.status_code == 200, log.text
    actions = [(e["action"], e["actor_role"]) for e in reversed(log.json()["items"])]
    assert actions == [
        ("asset.created", "editor"),
        ("asset.submitted", "editor"),
        ("asset.rejected", "reviewer"),
        ("asset.edited", "editor"),
        ("asset.submitted", "editor"),
        ("asset.approved", "reviewer"),
    ]
    viewer = await key_for(api, tenant, "viewer")
    assert_problem(await api.get("/v1/audit", headers=viewer.auth), 403, "forbidden")


async def test_a_partial_failure_shows_on_the_asset(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    good, bad = (f"partial-{uuid.uuid4().hex[:6]}" for _ in range(2))
    channels = [await make_channel(api, tenant, good), await make_channel(api, tenant, bad)]
    faults = await sandbox.post("/faults", json={"account": bad, "responses": [{"status": 400}]})
    assert faults.status_code < 300, faults.text
    asset = await new_asset(api, tenant, channels)
    assert (await api.post(f"/v1/assets/{asset['id']}/approve", headers=tenant.auth)).is_success

    async def finished() -> str | None:
        shown = (await api.get(f"/v1/assets/{asset['id']}", headers=tenant.auth)).json()
        return shown["status"] if shown["status"] not in ("approved", "publishing") else None

    await eventually(finished)
    assert await finished() == "partially_failed"


async def test_editing_an_approved_scheduled_asset_sends_it_back_to_review(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    channel = await make_channel(api, tenant, f"sched-{uuid.uuid4().hex[:6]}")
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    asset = await new_asset(api, tenant, [channel], scheduled_for=later)
    url = f"/v1/assets/{asset['id']}"
    approved = (await api.post(f"{url}/approve", headers=tenant.auth)).json()
    assert [j["status"] for j in approved["jobs"]] == ["scheduled"]
    old_job = approved["jobs"][0]["id"]

    edited = await api.patch(url, headers=tenant.auth, json={"title": "Opening hours (new)"})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["status"], edited.json()["jobs"]) == ("submitted", [])
    assert (await api.get(f"/v1/jobs/{old_job}", headers=tenant.auth)).status_code == 404

    again = (await api.post(f"{url}/approve", headers=tenant.auth)).json()
    assert [j["status"] for j in again["jobs"]] == ["scheduled"]
    assert again["jobs"][0]["id"] != old_job
    assert (await api.post(f"{url}/cancel", headers=tenant.auth)).json()["status"] == "cancelled"


async def test_patch_refuses_nulls_and_empty_changes(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    channel = await make_channel(api, tenant, f"patch-{uuid.uuid4().hex[:6]}")
    url = f"/v1/assets/{(await new_asset(api, tenant, [channel]))['id']}"
    bodies: list[dict[str, Any]] = [
        {},
        {"title": None},
        {"channel_ids": []},
        {"channel_ids": [str(uuid.uuid4())]},
    ]
    for body in bodies:
        response = await api.patch(url, headers=tenant.auth, json=body)
        assert response.status_code in (409, 422), (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    cleared = await api.patch(url, headers=tenant.auth, json={"scheduled_for": None})
    assert cleared.json()["scheduled_for"] is None, cleared.text


async def test_assets_list_pages_newest_first_with_a_status_filter(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    channel = await make_channel(api, tenant, f"list-{uuid.uuid4().hex[:6]}")
    ids = [(await new_asset(api, tenant, [channel]))["id"] for _ in range(5)]
    await api.post(f"/v1/assets/{ids[1]}/submit", headers=tenant.auth)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/assets", headers=tenant.auth, params=params)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i for i in seen if i in ids] == list(reversed(ids))
    submitted = await api.get("/v1/assets", headers=tenant.auth, params={"status": "submitted"})
    assert [a["id"] for a in submitted.json()["items"]] == [ids[1]]
    bad = await api.get("/v1/assets", headers=tenant.auth, params={"status": "published"})
    assert_problem(bad, 422, "validation_error")
