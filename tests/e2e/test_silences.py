"""Silences through the API: created, listed, ended early; bad input refused with its code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.conftest import OPERATOR_TOKEN, Tenant, make_channel

SOON = "a valid end, a day from now"
FAR_EDGE = "9999-12-31T23:59:59-14:00"  # beyond what a datetime can hold in UTC


def _soon(hours: float = 1) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def test_a_silence_is_listed_while_active_and_ends_when_expired(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await api.post(
        "/v1/silences",
        headers=tenant.auth,
        json={"category": "publish_failed", "reason": "migration", "ends_at": _soon()},
    )
    assert created.status_code == 201, created.text
    silence = created.json()
    active = (await api.get("/v1/silences?active=true", headers=tenant.auth)).json()["items"]
    assert silence["id"] in {s["id"] for s in active}

    ended = await api.delete(f"/v1/silences/{silence['id']}", headers=tenant.auth)
    assert ended.status_code == 204
    body = (await api.get(f"/v1/silences/{silence['id']}", headers=tenant.auth)).json()
    assert body["active"] is False
    inactive = (await api.get("/v1/silences?active=false", headers=tenant.auth)).json()["items"]
    assert silence["id"] in {s["id"] for s in inactive}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"reason": "r", "ends_at": SOON}, "silence_matches_everything"),
        ({"category": "x", "reason": "r", "ends_at": "2020-01-01T00:00:00Z"}, "validation_error"),
        ({"category": "x", "reason": "r", "ends_at": FAR_EDGE}, "validation_error"),
        (
            {"category": "x", "reason": "r", "ends_at": SOON,
             "starts_at": "0001-01-01T00:30:00+01:00"},
            "validation_error",
        ),
        ({"category": "x", "reason": "r", "ends_at": "2027-01-01T00:00:00"}, "validation_error"),
        ({"category": "x", "reason": "r", "ends_at": "2031-01-01T00:00:00Z"}, "validation_error"),
        ({"category": "x", "reason": "", "ends_at": SOON}, "validation_error"),
        ({"channel_id": str(uuid.uuid4()), "reason": "r", "ends_at": "x"}, "validation_error"),
    ],
)  # fmt: skip
async def test_bad_silences_are_refused_with_a_code(
    api: httpx.AsyncClient, tenant: Tenant, body: dict[str, str], code: str
) -> None:
    body = {k: _soon(24) if v is SOON else v for k, v in body.items()}
    response = await api.post("/v1/silences", headers=tenant.auth, json=body)
    assert (response.status_code, response.json()["code"]) == (422, code), response.text


async def test_a_silence_of_another_tenants_channel_is_refused(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    other = (
        await api.post(
            "/v1/tenants",
            json={"name": "other"},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
    ).json()
    theirs = await make_channel(api, Tenant(other["tenant"]["id"], other["api_key"]), "theirs")
    response = await api.post(
        "/v1/silences",
        headers=tenant.auth,
        json={"channel_id": theirs, "reason": "r", "ends_at": _soon()},
    )
    assert (response.status_code, response.json()["code"]) == (422, "unknown_channel")
    peek = await api.get(f"/v1/silences/{uuid.uuid4()}", headers=tenant.auth)
    assert (peek.status_code, peek.json()["code"]) == (404, "silence_not_found")
