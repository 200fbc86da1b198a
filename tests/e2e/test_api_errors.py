"""Bad input gets problem+json with a stable code and the right 4xx — never a 500."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import OPERATOR_TOKEN, Tenant, make_channel

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    return body


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "missing"),
        ({"Authorization": "Bearer hk_not-a-real-key"}, "wrong"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "wrong scheme"),
        ({"Authorization": f"Bearer {OPERATOR_TOKEN}"}, "operator token is not an API key"),
    ],
)
async def test_missing_or_wrong_api_key_is_401(
    api: httpx.AsyncClient, headers: dict[str, str], why: str
) -> None:
    response = await api.get(f"/v1/assets/{uuid.uuid4()}", headers=headers)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_tenant_creation_needs_the_operator_token(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await api.post("/v1/tenants", json={"name": "x"}, headers=tenant.auth)
    assert_problem(response, 401, "unauthorized")


async def test_malformed_json_is_400(api: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await api.post(
        "/v1/assets",
        content=b'{"title": "x", "body": ',
        headers={**tenant.auth, "content-type": "application/json"},
    )
    assert_problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": "b", "channel_ids": []}, "title"),
        ({"title": "nul\u0000byte", "body": "b", "channel_ids": [str(uuid.uuid4())]}, "title"),
        ({"title": "t", "body": "\u0000", "channel_ids": [str(uuid.uuid4())]}, "body"),
        ({"title": "t", "body": "b", "channel_ids": []}, "channel_ids"),
        ({"title": "t", "body": "b", "channel_ids": ["not-a-uuid"]}, "channel_ids"),
        (
            {"title": "t", "body": "b", "channel_ids": [str(uuid.uuid4())], "priority": "urgent"},
            "priority",
        ),
        (
            {
                "title": "t",
                "body": "b",
                "channel_ids": [str(uuid.uuid4())],
                "scheduled_for": "2030-01-01T09:00:00",
            },
            "scheduled_for",
        ),
        (
            {"title": "t", "body": "b", "channel_ids": [str(uuid.uuid4())], "tenant_id": "x"},
            "tenant_id",
        ),
    ],
)
async def test_invalid_asset_is_422_naming_the_field(
    api: httpx.AsyncClient, tenant: Tenant, body: dict[str, object], field: str
) -> None:
    response = await api.post("/v1/assets", json=body, headers=tenant.auth)
    problem = assert_problem(response, 422, "validation_error")
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert any(field in error["loc"] for error in errors), errors


async def test_unknown_channel_is_422(api: httpx.AsyncClient, tenant: Tenant) -> None:
    missing = str(uuid.uuid4())
    response = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "t", "body": "b", "channel_ids": [missing]},
    )
    problem = assert_problem(response, 422, "unknown_channel")
    assert missing in str(problem["detail"])


async def test_another_tenants_channel_is_unknown(api: httpx.AsyncClient, tenant: Tenant) -> None:
    other = await _other_tenant(api)
    foreign = await make_channel(api, other, "theirs")
    response = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "t", "body": "b", "channel_ids": [foreign]},
    )
    assert_problem(response, 422, "unknown_channel")
    assert_problem(
        await api.get(f"/v1/channels/{foreign}", headers=tenant.auth), 404, "channel_not_found"
    )


async def test_another_tenants_asset_and_job_are_not_found(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    other = await _other_tenant(api)
    channel = await make_channel(api, other, "theirs")
    created = await api.post(
        "/v1/assets", headers=other.auth, json={"title": "t", "body": "b", "channel_ids": [channel]}
    )
    asset = created.json()["id"]
    approved = await api.post(f"/v1/assets/{asset}/approve", headers=other.auth)
    job = approved.json()["jobs"][0]["id"]

    assert_problem(
        await api.get(f"/v1/assets/{asset}", headers=tenant.auth), 404, "asset_not_found"
    )
    assert_problem(
        await api.post(f"/v1/assets/{asset}/approve", headers=tenant.auth), 404, "asset_not_found"
    )
    assert_problem(await api.get(f"/v1/jobs/{job}", headers=tenant.auth), 404, "job_not_found")


async def test_approving_twice_is_409_and_creates_no_more_jobs(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    channel = await make_channel(api, tenant, f"twice-{uuid.uuid4().hex[:6]}")
    created = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "t", "body": "b", "channel_ids": [channel]},
    )
    asset = created.json()["id"]
    first = await api.post(f"/v1/assets/{asset}/approve", headers=tenant.auth)
    assert first.status_code == 200
    second = await api.post(f"/v1/assets/{asset}/approve", headers=tenant.auth)
    problem = assert_problem(second, 409, "asset_not_approvable")
    assert problem["asset_status"] == "approved"
    jobs = (await api.get(f"/v1/assets/{asset}", headers=tenant.auth)).json()["jobs"]
    assert len(jobs) == 1


async def test_invalid_channel_settings_are_422(api: httpx.AsyncClient, tenant: Tenant) -> None:
    unknown = await api.post(
        "/v1/channels", headers=tenant.auth, json={"platform": "myspace", "name": "x"}
    )
    assert_problem(unknown, 422, "unknown_platform")
    incomplete = await api.post(
        "/v1/channels",
        headers=tenant.auth,
        json={"platform": "sandbox", "name": "x", "config": {}, "credentials": {}},
    )
    problem = assert_problem(incomplete, 422, "invalid_channel")
    assert "config.account" in str(problem["detail"])


async def test_credentials_are_never_returned(api: httpx.AsyncClient, tenant: Tenant) -> None:
    channel = await make_channel(api, tenant, "private")
    for response in (
        await api.get(f"/v1/channels/{channel}", headers=tenant.auth),
        await api.get("/v1/channels", headers=tenant.auth),
    ):
        assert response.status_code == 200
        assert "secret-token" not in response.text
        assert "credentials" not in response.text


async def test_unknown_route_and_bad_id_are_problems(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    assert_problem(await api.get("/v1/nothing-here", headers=tenant.auth), 404, "not_found")
    response = await api.get("/v1/assets/not-a-uuid", headers=tenant.auth)
    assert_problem(response, 422, "validation_error")


async def test_oversized_body_is_413(api: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await api.post(
        "/v1/assets",
        headers={**tenant.auth, "content-type": "application/json"},
        content=b" " * 1_100_000,
    )
    assert_problem(response, 413, "payload_too_large")


async def _other_tenant(api: httpx.AsyncClient) -> Tenant:
    response = await api.post(
        "/v1/tenants", json={"name": "other"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    body = response.json()
    return Tenant(body["tenant"]["id"], body["api_key"])


async def test_nul_characters_in_channel_settings_are_422(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await api.post(
        "/v1/channels",
        headers=tenant.auth,
        json={
            "platform": "sandbox",
            "name": "x",
            "config": {"account": "a\u0000"},
            "credentials": {"token": "t"},
        },
    )
    problem = assert_problem(response, 422, "validation_error")
    assert "config" in str(problem["errors"])
