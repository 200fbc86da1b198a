"""Every route of the API against every role, and against another tenant's key.

The matrix below is the specification: a route the API serves that is missing from it fails
the test, so a new route cannot ship without a decision about who may call it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import OPERATOR_TOKEN, Tenant, one_of_everything

ROLES = ("admin", "reviewer", "editor", "viewer")
ANY = frozenset(ROLES)
ADMIN = frozenset({"admin"})
EDITORS = frozenset({"admin", "editor"})
REVIEWERS = frozenset({"admin", "reviewer"})
OPERATORS = frozenset({"admin", "editor", "reviewer"})  # act on jobs: cancel, retry, redrive
OPERATOR = "operator token"
PUBLIC = "no key"  # the platform's redirect back: the OAuth state authorizes it
NOT_IDS = {"platform"}  # path parameters that name no entity of a tenant

MATRIX: dict[tuple[str, str], frozenset[str] | str] = {
    ("POST", "/v1/tenants"): OPERATOR,
    ("GET", "/v1/system/alerts"): OPERATOR,
    ("POST", "/v1/api-keys"): ADMIN,
    ("GET", "/v1/api-keys"): ADMIN,
    ("DELETE", "/v1/api-keys/{key_id}"): ADMIN,
    ("GET", "/v1/audit"): REVIEWERS,
    ("POST", "/v1/channels"): ADMIN,
    ("GET", "/v1/channels"): ANY,
    ("GET", "/v1/channels/{channel_id}"): ANY,
    ("PATCH", "/v1/channels/{channel_id}"): ADMIN,
    ("DELETE", "/v1/channels/{channel_id}"): ADMIN,
    ("POST", "/v1/channels/{channel_id}/disconnect"): ADMIN,
    ("GET", "/v1/channels/{channel_id}/inventory"): ANY,
    ("POST", "/v1/channels/{channel_id}/verify"): ADMIN,
    ("POST", "/v1/channels/{channel_id}/refresh"): ADMIN,
    ("POST", "/v1/channels/{platform}/connect"): ADMIN,
    ("GET", "/v1/oauth/callback/{platform}"): PUBLIC,
    ("POST", "/v1/assets"): EDITORS,
    ("GET", "/v1/assets"): ANY,
    ("GET", "/v1/assets/{asset_id}"): ANY,
    ("PATCH", "/v1/assets/{asset_id}"): EDITORS,
    ("POST", "/v1/assets/{asset_id}/submit"): EDITORS,
    ("POST", "/v1/assets/{asset_id}/approve"): REVIEWERS,
    ("POST", "/v1/assets/{asset_id}/reject"): REVIEWERS,
    ("POST", "/v1/assets/{asset_id}/cancel"): OPERATORS,
    ("GET", "/v1/jobs"): ANY,
    ("POST", "/v1/jobs/redrive"): OPERATORS,
    ("GET", "/v1/jobs/{job_id}"): ANY,
    ("POST", "/v1/jobs/{job_id}/cancel"): OPERATORS,
    ("POST", "/v1/jobs/{job_id}/retry"): OPERATORS,
    ("GET", "/v1/queue/stats"): ANY,
    ("GET", "/v1/events"): ANY,
    ("GET", "/v1/platforms"): ANY,
    ("GET", "/v1/system/health"): ANY,
    ("GET", "/v1/alerts"): ANY,
    ("GET", "/v1/alerts/{alert_id}"): ANY,
    ("POST", "/v1/alerts/{alert_id}/acknowledge"): REVIEWERS,
    ("POST", "/v1/alerts/{alert_id}/resolve"): REVIEWERS,
    ("POST", "/v1/silences"): REVIEWERS,
    ("GET", "/v1/silences"): ANY,
    ("GET", "/v1/silences/{silence_id}"): ANY,
    ("DELETE", "/v1/silences/{silence_id}"): REVIEWERS,
    ("POST", "/v1/webhook-endpoints"): ADMIN,
    ("GET", "/v1/webhook-endpoints"): ADMIN,
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"): ADMIN,
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): ADMIN,
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): ADMIN,
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/test"): ADMIN,
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries"): ADMIN,
}

# Bodies that pass validation, so that a refusal can only come from the key.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/assets/{asset_id}"): {"title": "changed"},
    ("POST", "/v1/assets/{asset_id}/reject"): {"reason": "no"},
    ("PATCH", "/v1/channels/{channel_id}"): {"name": "changed"},
}
STREAMING = {("GET", "/v1/events")}
PARAM = re.compile(r"\{(\w+)\}")


async def _routes(api: httpx.AsyncClient) -> list[tuple[str, str]]:
    spec = (await api.get("/openapi.json")).json()
    return sorted((m.upper(), path) for path, ops in spec["paths"].items() for m in ops)


async def _call(
    api: httpx.AsyncClient, method: str, path: str, ids: dict[str, str], token: str
) -> httpx.Response:
    url = PARAM.sub(lambda m: ids.get(m.group(1), str(uuid.uuid4())), path)
    headers = {"Authorization": f"Bearer {token}"}
    body = BODIES.get((method, path), {}) if method in ("POST", "PATCH") else None
    if (method, path) in STREAMING:
        async with api.stream(method, url, headers=headers) as response:
            return response  # the status is all we need; leaving closes the stream
    return await api.request(method, url, headers=headers, json=body)


async def _key(api: httpx.AsyncClient, admin: Tenant, role: str) -> str:
    if role == "admin":
        return admin.key
    made = await api.post("/v1/api-keys", headers=admin.auth, json={"name": role, "role": role})
    assert made.status_code == 201, made.text
    return str(made.json()["api_key"])


async def test_every_route_is_in_the_matrix(api: httpx.AsyncClient) -> None:
    served = set(await _routes(api))
    assert served - set(MATRIX) == set(), "routes without a role decision"
    assert set(MATRIX) - served == set(), "the matrix names routes the API does not serve"


@pytest.mark.parametrize("role", ROLES)
async def test_every_route_admits_exactly_the_roles_of_the_matrix(
    api: httpx.AsyncClient, tenant: Tenant, role: str
) -> None:
    key = await _key(api, tenant, role)
    wrong: list[str] = []
    for method, path in await _routes(api):
        allowed = MATRIX[(method, path)]
        response = await _call(api, method, path, {}, key)
        if allowed == OPERATOR:
            ok = response.status_code == 401
        elif allowed == PUBLIC or role in allowed:
            ok = response.status_code not in (401, 403) and response.status_code < 500
        else:
            ok = response.status_code == 403 and response.json()["code"] == "forbidden"
        if not ok:
            wrong.append(f"{method} {path} as {role}: {response.status_code}")
    assert wrong == []


async def test_operator_routes_admit_the_operator_token(api: httpx.AsyncClient) -> None:
    for (method, path), allowed in MATRIX.items():
        if allowed == OPERATOR:
            response = await _call(api, method, path, {}, OPERATOR_TOKEN)
            assert response.status_code not in (401, 403), (method, path, response.text)
            assert response.status_code < 500


async def test_another_tenant_sees_none_of_my_rows_and_gets_404_for_each_id(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    ids = await one_of_everything(api, sandbox, tenant)
    made = await api.post(
        "/v1/tenants", json={"name": "b"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    b = made.json()["api_key"]
    leaks: list[str] = []
    for method, path in await _routes(api):
        if MATRIX[(method, path)] in (OPERATOR, PUBLIC) or (method, path) in STREAMING:
            continue
        response = await _call(api, method, path, ids, b)
        if PARAM.search(path) and set(PARAM.findall(path)) - NOT_IDS:
            kind = PARAM.search(path).group(1)  # type: ignore[union-attr]
            if response.status_code != 404:
                leaks.append(f"{method} {path}: {response.status_code} for tenant A's {kind}")
        elif method == "GET" and any(v in response.text for v in ids.values()):
            leaks.append(f"{method} {path} lists a row of tenant A")
    assert leaks == []
    # A's rows are still there and unchanged for A.
    for kind, path in (("asset_id", "/v1/assets/{}"), ("channel_id", "/v1/channels/{}")):
        assert (await api.get(path.format(ids[kind]), headers=tenant.auth)).status_code == 200
