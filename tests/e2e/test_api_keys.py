"""API keys through the HTTP API and the CLI: shown once, roles, expiry, revocation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from herald.common.db.engine import Database
from herald.common.db.models import ApiKey
from tests.e2e.conftest import OPERATOR_TOKEN, System, Tenant
from tests.e2e.test_api_errors import assert_problem


async def test_a_key_is_shown_once_and_works_until_revoked(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await api.post(
        "/v1/api-keys", headers=tenant.auth, json={"name": "desk", "role": "viewer"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    viewer = Tenant(tenant.id, body["api_key"])
    assert body["api_key"].startswith(body["prefix"])
    listed = (await api.get("/v1/api-keys", headers=tenant.auth)).json()["items"]
    assert {k["id"] for k in listed} >= {body["id"]}
    assert body["api_key"] not in str(listed) and all("api_key" not in k for k in listed)

    assert (await api.get("/v1/assets", headers=viewer.auth)).status_code == 200
    assert_problem(await api.get("/v1/api-keys", headers=viewer.auth), 403, "forbidden")
    revoked = await api.delete(f"/v1/api-keys/{body['id']}", headers=tenant.auth)
    assert revoked.status_code == 204
    assert (await api.delete(f"/v1/api-keys/{body['id']}", headers=tenant.auth)).status_code == 204
    assert_problem(await api.get("/v1/assets", headers=viewer.auth), 401, "unauthorized")
    log = (
        await api.get("/v1/audit", headers=tenant.auth, params={"subject_id": body["id"]})
    ).json()
    assert [e["action"] for e in log["items"]] == ["api_key.revoked", "api_key.created"]


async def test_an_expired_key_is_refused(
    api: httpx.AsyncClient, tenant: Tenant, e2e_db: Database
) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = (
        await api.post(
            "/v1/api-keys",
            headers=tenant.auth,
            json={"name": "temp", "role": "editor", "expires_at": soon},
        )
    ).json()
    key = Tenant(tenant.id, body["api_key"])
    assert (await api.get("/v1/assets", headers=key.auth)).status_code == 200
    async with e2e_db.transaction() as session:  # the hour passes
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == uuid.UUID(body["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert_problem(await api.get("/v1/assets", headers=key.auth), 401, "unauthorized")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = await api.post(
        "/v1/api-keys",
        headers=tenant.auth,
        json={"name": "x", "role": "viewer", "expires_at": past},
    )
    assert_problem(refused, 422, "invalid_expiry")


async def test_the_last_admin_key_cannot_be_revoked(api: httpx.AsyncClient, tenant: Tenant) -> None:
    mine = (await api.get("/v1/api-keys", headers=tenant.auth)).json()["items"]
    assert [k["role"] for k in mine] == ["admin"]
    refused = await api.delete(f"/v1/api-keys/{mine[0]['id']}", headers=tenant.auth)
    assert_problem(refused, 409, "last_admin_key")
    second = (
        await api.post("/v1/api-keys", headers=tenant.auth, json={"name": "2", "role": "admin"})
    ).json()
    other = Tenant(tenant.id, second["api_key"])
    # Both admins revoke each other at once: exactly one succeeds, one admin key remains.
    first, then = await asyncio.gather(
        api.delete(f"/v1/api-keys/{second['id']}", headers=tenant.auth),
        api.delete(f"/v1/api-keys/{mine[0]['id']}", headers=other.auth),
    )
    # The loser is refused by the last-admin rule (409) or, when the winner's revocation
    # committed before the loser's key was checked, as a revoked key (401).
    statuses = sorted([first.status_code, then.status_code])
    assert statuses in ([204, 409], [204, 401]), (first.text, then.text)
    survivor = tenant if first.status_code == 204 else other
    keys = (await api.get("/v1/api-keys", headers=survivor.auth)).json()["items"]
    assert [k["role"] for k in keys if k["revoked_at"] is None] == ["admin"]


async def test_bad_key_requests_get_clear_errors(api: httpx.AsyncClient, tenant: Tenant) -> None:
    for body in (
        {"name": "x", "role": "owner"},
        {"name": "", "role": "viewer"},
        {"role": "viewer"},
    ):
        response = await api.post("/v1/api-keys", headers=tenant.auth, json=body)
        assert_problem(response, 422, "validation_error")
    assert_problem(
        await api.delete(f"/v1/api-keys/{uuid.uuid4()}", headers=tenant.auth),
        404,
        "api_key_not_found",
    )


async def test_keys_from_the_cli(api: httpx.AsyncClient, system: System, tenant: Tenant) -> None:
    env = {**os.environ, "HERALD_DATABASE_URL": system.database_url}

    def herald(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "herald.cli", "api-keys", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    made = await asyncio.to_thread(herald, "create", "--tenant", tenant.id, "--role", "reviewer")
    assert made.returncode == 0, made.stderr
    key_id, plain = (line.split()[-1] for line in made.stdout.splitlines()[:2])
    reviewer = Tenant(tenant.id, plain)
    assert (await api.get("/v1/audit", headers=reviewer.auth)).status_code == 200
    gone = await asyncio.to_thread(herald, "revoke", key_id)
    assert gone.returncode == 0, gone.stderr
    assert_problem(await api.get("/v1/audit", headers=reviewer.auth), 401, "unauthorized")
    for args, reason in (
        (("create", "--tenant", tenant.id, "--role", "owner"), "--role must be one of"),
        (("create", "--tenant", "nope", "--role", "viewer"), "is not a tenant id"),
        (("create", "--tenant", str(uuid.uuid4()), "--role", "viewer"), "no tenant"),
        (("revoke", key_id), "already revoked"),
    ):
        failed = await asyncio.to_thread(herald, *args)
        assert failed.returncode == 1 and reason in failed.stderr, failed.stderr
        assert "Traceback" not in failed.stderr


async def test_another_tenants_key_cannot_touch_mine(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    other = (
        await api.post(
            "/v1/tenants", json={"name": "b"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        )
    ).json()
    b = Tenant(other["tenant"]["id"], other["api_key"])
    mine = (await api.get("/v1/api-keys", headers=tenant.auth)).json()["items"][0]["id"]
    assert_problem(
        await api.delete(f"/v1/api-keys/{mine}", headers=b.auth), 404, "api_key_not_found"
    )
    assert mine not in str((await api.get("/v1/api-keys", headers=b.auth)).json())
