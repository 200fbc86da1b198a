"""Tests of herald.sandbox: the in-memory store and the HTTP API served in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from herald.sandbox.__main__ import ConfigError, parse_port
from herald.sandbox.app import create_app
from herald.sandbox.schemas import retry_after_header
from herald.sandbox.store import FaultScript, PostStore, ScriptedResponse

AUTH = {"Authorization": "Bearer test-token"}
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(hang_seconds=0.2))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


async def publish(
    client: httpx.AsyncClient,
    account: str = "acme",
    body: str = "hello",
    key: str | None = None,
    headers: Mapping[str, str] = AUTH,
) -> httpx.Response:
    all_headers = dict(headers)
    if key is not None:
        all_headers["Idempotency-Key"] = key
    payload: dict[str, Any] = {"account": account, "body": body, "media": ["https://x/1.png"]}
    return await client.post("/posts", json=payload, headers=all_headers)


async def script(client: httpx.AsyncClient, account: str, *responses: dict[str, Any]) -> int:
    response = await client.post("/faults", json={"account": account, "responses": responses})
    assert response.status_code == 200
    pending: int = response.json()["pending"]
    return pending


async def listed(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/posts", params=params)
    assert response.status_code == 200
    posts: list[dict[str, Any]] = response.json()
    return posts


# --- PostStore / FaultScript (pure) ---------------------------------------------------


def test_store_dedupes_by_account_and_key() -> None:
    store = PostStore()
    first, created = store.record("a", "k1", "one", ["m"], T0)
    assert created
    assert first.id.startswith("post_")
    assert len(first.id) == len("post_") + 32
    assert (first.deliveries, first.media, first.received_at) == (1, ("m",), T0)

    again, created = store.record("a", "k1", "different body", [], T0 + timedelta(seconds=1))
    assert not created
    assert (again.id, again.body, again.deliveries) == (first.id, "one", 2)
    assert store.get(first.id) == again
    assert store.find_by_key("a", "k1") == again

    other, created = store.record("b", "k1", "one", [], T0)
    assert created
    assert other.id != first.id
    assert store.find_by_key("b", "missing") is None


def test_store_without_key_always_creates_and_lists_in_time_order() -> None:
    store = PostStore()
    late, _ = store.record("a", None, "late", [], T0 + timedelta(seconds=5))
    early, _ = store.record("a", None, "early", [], T0)
    other, _ = store.record("b", None, "b", [], T0 + timedelta(seconds=1))
    assert [p.id for p in store.list("a")] == [early.id, late.id]
    assert [p.id for p in store.list()] == [early.id, other.id, late.id]
    assert store.list("nobody") == []
    assert len(store) == 3
    store.clear()
    assert (len(store), store.list(), store.get(early.id)) == (0, [], None)


def test_fault_script_is_fifo_per_account() -> None:
    faults = FaultScript()
    first, second = ScriptedResponse(503, retry_after=2), ScriptedResponse(429)
    assert faults.append("a", [first]) == 1
    assert faults.append("a", [second]) == 2
    assert faults.append("b", [second]) == 1
    assert faults.next_response("a") == first
    assert faults.next_response("a") == second
    assert faults.next_response("a") is None
    faults.clear("b")
    assert faults.pending("b") == 0
    faults.append("c", [first])
    faults.clear()
    assert faults.next_response("c") is None


@pytest.mark.parametrize(
    ("seconds", "header"), [(2, "2"), (2.0, "2"), (0, "0"), (1.5, "1.5"), (0.25, "0.25")]
)
def test_retry_after_header(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header


@pytest.mark.parametrize(
    ("raw", "port"), [(None, 8790), ("", 8790), ("18790", 18790), (" 9000 ", 9000)]
)
def test_parse_port_accepts(raw: str | None, port: int) -> None:
    assert parse_port(raw) == port


@pytest.mark.parametrize("raw", ["abc", "80.5", "-1", "65536"])
def test_parse_port_rejects(raw: str) -> None:
    with pytest.raises(ConfigError, match="HERALD_SANDBOX_PORT"):
        parse_port(raw)


# --- HTTP: publishing and idempotency -----------------------------------------------------


async def test_same_key_replays_first_post(client: httpx.AsyncClient) -> None:
    created = await publish(client, key="k1")
    assert created.status_code == 201
    post = created.json()
    assert post["account"] == "acme"
    assert post["idempotency_key"] == "k1"
    assert post["media"] == ["https://x/1.png"]
    assert post["deliveries"] == 1
    assert datetime.fromisoformat(post["received_at"]).tzinfo is not None

    replay = await publish(client, key="k1", body="changed")
    assert replay.status_code == 200
    assert replay.json() == {**post, "deliveries": 2}
    assert await listed(client, account="acme") == [{**post, "deliveries": 2}]


async def test_same_key_in_other_accounts_is_separate(client: httpx.AsyncClient) -> None:
    a = await publish(client, account="a", key="shared")
    b = await publish(client, account="b", key="shared")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]
    assert [p["id"] for p in await listed(client, account="a")] == [a.json()["id"]]
    assert len(await listed(client)) == 2


async def test_without_key_every_request_creates(client: httpx.AsyncClient) -> None:
    first, second = await publish(client), await publish(client)
    assert (first.status_code, second.status_code) == (201, 201)
    posts = await listed(client, account="acme")
    assert [p["id"] for p in posts] == [first.json()["id"], second.json()["id"]]
    assert all(p["idempotency_key"] is None for p in posts)


async def test_concurrent_deliveries_of_one_key_make_one_post(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(publish(client, key="burst") for _ in range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    posts = await listed(client, account="acme")
    assert len(posts) == 1
    assert posts[0]["deliveries"] == 50


@pytest.mark.parametrize(
    ("headers", "error", "www_authenticate"),
    [
        ({}, "missing_token", None),
        ({"Authorization": "Bearer "}, "missing_token", None),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_token", None),
        ({"Authorization": "Bearer expired"}, "invalid_token", 'Bearer error="invalid_token"'),
    ],
)
async def test_auth_failures(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    error: str,
    www_authenticate: str | None,
) -> None:
    response = await publish(client, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": error}
    assert response.headers.get("WWW-Authenticate") == www_authenticate
    assert await listed(client) == []


@pytest.mark.parametrize(
    "payload",
    [{"body": "no account"}, {"account": "a"}, {"account": "a", "body": "x", "media": "nope"}],
)
async def test_invalid_body_is_422(client: httpx.AsyncClient, payload: dict[str, Any]) -> None:
    response = await client.post("/posts", json=payload, headers=AUTH)
    assert response.status_code == 422


# --- HTTP: scripted faults -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "retry_after"),
    [
        ({"status": 503, "retry_after": 2}, 503, "2"),
        ({"status": 429, "retry_after": 1.5}, 429, "1.5"),
        ({"status": 429}, 429, None),
        ({"status": 500, "retry_after": 0}, 500, "0"),
    ],
)
async def test_scripted_error_records_nothing_then_recovers(
    client: httpx.AsyncClient, fault: dict[str, Any], status: int, retry_after: str | None
) -> None:
    assert await script(client, "acme", fault) == 1
    failed = await publish(client, key="k")
    assert failed.status_code == status
    assert failed.json() == {"error": "scripted"}
    assert failed.headers.get("Retry-After") == retry_after
    assert await listed(client) == []

    retried = await publish(client, key="k")
    assert retried.status_code == 201
    assert retried.json()["deliveries"] == 1


async def test_script_is_per_account_and_in_order(client: httpx.AsyncClient) -> None:
    await script(client, "acme", {"status": 503}, {"status": 429})
    assert (await publish(client, account="other")).status_code == 201
    assert (await publish(client)).status_code == 503
    assert (await publish(client)).status_code == 429
    assert (await publish(client)).status_code == 201


async def test_delay_then_success_records(client: httpx.AsyncClient) -> None:
    await script(client, "acme", {"status": 201, "delay_ms": 50})
    started = time.perf_counter()
    response = await publish(client)
    elapsed = time.perf_counter() - started
    assert response.status_code == 201
    assert elapsed >= 0.05
    assert len(await listed(client)) == 1


async def test_hang_holds_request_then_applies_status(client: httpx.AsyncClient) -> None:
    # The fixture's hang limit is 0.2 s; ASGITransport never reports a disconnect.
    await script(client, "acme", {"status": 504, "hang": True}, {"status": 201, "hang": True})
    started = time.perf_counter()
    failed = await publish(client, key="k")
    assert time.perf_counter() - started >= 0.2
    assert failed.status_code == 504
    assert await listed(client) == []
    landed = await publish(client, key="k")
    assert landed.status_code == 201
    assert len(await listed(client)) == 1


async def test_delete_faults_clears_scripts(client: httpx.AsyncClient) -> None:
    await script(client, "a", {"status": 503})
    await script(client, "b", {"status": 503})
    cleared_one = await client.delete("/faults", params={"account": "a"})
    assert cleared_one.json() == {"account": "a", "pending": 0}
    assert (await publish(client, account="a")).status_code == 201
    assert await script(client, "a", {"status": 503}) == 1
    assert (await client.delete("/faults")).status_code == 200
    assert (await publish(client, account="a")).status_code == 201
    assert (await publish(client, account="b")).status_code == 201


@pytest.mark.parametrize(
    "fault", [{"status": 99}, {"status": 600}, {"status": 503, "delay_ms": -1}, {}]
)
async def test_invalid_fault_is_422(client: httpx.AsyncClient, fault: dict[str, Any]) -> None:
    response = await client.post("/faults", json={"account": "a", "responses": [fault]})
    assert response.status_code == 422


# --- HTTP: reading and housekeeping --------------------------------------------------------


async def test_lookup_by_idempotency_key(client: httpx.AsyncClient) -> None:
    wanted = (await publish(client, key="k1")).json()
    await publish(client, key="k2")
    await publish(client, account="other", key="k1")
    assert await listed(client, account="acme", idempotency_key="k1") == [wanted]
    assert await listed(client, account="acme", idempotency_key="nope") == []
    assert len(await listed(client, idempotency_key="k1")) == 2


async def test_get_post_by_id(client: httpx.AsyncClient) -> None:
    post = (await publish(client)).json()
    found = await client.get(f"/posts/{post['id']}")
    assert (found.status_code, found.json()) == (200, post)
    missing = await client.get("/posts/post_missing")
    assert (missing.status_code, missing.json()) == (404, {"error": "not_found"})


async def test_delete_posts(client: httpx.AsyncClient) -> None:
    await publish(client)
    await publish(client)
    response = await client.delete("/posts")
    assert response.json() == {"deleted": 2}
    assert await listed(client) == []


async def test_healthz_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    await script(client, "acme", {"status": 503})
    await publish(client, key="k")
    await publish(client, key="k")
    await publish(client, key="k")
    metrics = await client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'herald_sandbox_posts_total{result="created"} 1.0' in metrics.text
    assert 'herald_sandbox_posts_total{result="duplicate"} 1.0' in metrics.text
    assert 'herald_sandbox_posts_total{result="fault"} 1.0' in metrics.text


async def test_apps_do_not_share_state(client: httpx.AsyncClient) -> None:
    await publish(client, key="k")
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as fresh:
        assert await listed(fresh) == []
        assert (await publish(fresh, key="k")).status_code == 201


async def test_drop_records_the_post_and_never_answers_in_time() -> None:
    app = create_app(hang_seconds=0.5)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        await client.post(
            "/faults", json={"account": "a", "responses": [{"status": 201, "drop": True}]}
        )
        dropped = asyncio.create_task(
            client.post(
                "/posts",
                json={"account": "a", "body": "x"},
                headers={**AUTH, "Idempotency-Key": "k1"},
            )
        )
        await asyncio.sleep(0.1)
        assert not dropped.done(), "no answer while the client is still waiting"
        posts = (await client.get("/posts", params={"account": "a"})).json()
        assert [p["idempotency_key"] for p in posts] == ["k1"], "but the post exists"
        await dropped
        retry = await client.post(
            "/posts", json={"account": "a", "body": "x"}, headers={**AUTH, "Idempotency-Key": "k1"}
        )
        assert retry.status_code == 200
        assert retry.json()["deliveries"] == 2


async def test_the_webhook_inbox_keeps_what_arrived_per_name(client: httpx.AsyncClient) -> None:
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}
    sent = await client.post("/webhooks/demo", json={"type": "alert.raised"}, headers=headers)
    assert sent.status_code == 204
    await client.post("/webhooks/demo", content=b"not json")
    got = (await client.get("/webhooks/demo")).json()
    assert [g["body"] for g in got] == [{"type": "alert.raised"}, "not json"]
    assert got[0]["headers"]["webhook-id"] == "msg_1"
    assert (await client.get("/webhooks/other")).json() == []
