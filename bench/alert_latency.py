"""Failure → notification latency at idle, against a running `make run`.

Usage: set -a; . .herald/demo.env; set +a; uv run python bench/alert_latency.py [tries]
Each try creates a tenant (operator token) with a webhook endpoint and one sandbox channel, fails
one post there (a new alert; one failing channel never adds up to a platform alert, which
would inhibit the channel's notification) and measures from
the failed attempt's ``finished_at`` (server clock) to the moment ``alert.raised`` reaches a
webhook receiver run by this script on the same machine.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import uuid
from datetime import UTC, datetime

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

arrivals: dict[str, datetime] = {}  # channel id → when its alert.raised arrived
arrived = asyncio.Condition()


async def hook(request: Request) -> Response:
    body = await request.json()
    if body["type"] == "alert.raised":
        arrivals.setdefault(str(body["data"]["alert"]["channel_id"]), datetime.now(UTC))
        async with arrived:
            arrived.notify_all()
    return Response(status_code=204)


async def one(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, receiver_url: str, n: int
) -> float:
    operator = {"Authorization": f"Bearer {os.environ['HERALD_OPERATOR_TOKEN']}"}
    tenant = await api.post("/v1/tenants", json={"name": f"bench-alert-{n}"}, headers=operator)
    auth = {"Authorization": f"Bearer {tenant.json()['api_key']}"}
    await api.post("/v1/webhook-endpoints", json={"url": receiver_url}, headers=auth)
    account = f"bench-alert-{uuid.uuid4().hex[:8]}"
    channel = (
        await api.post(
            "/v1/channels",
            headers=auth,
            json={
                "platform": "sandbox",
                "name": account,
                "config": {"account": account},
                "credentials": {"token": "bench"},
            },
        )
    ).json()["id"]
    await sandbox.post("/faults", json={"account": account, "responses": [{"status": 422}]})
    asset = await api.post(
        "/v1/assets",
        headers=auth,
        json={"title": f"alert {n}", "body": "probe", "channel_ids": [channel]},
    )
    approved = await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=auth)
    job_id = approved.json()["jobs"][0]["id"]
    async with arrived:
        await asyncio.wait_for(arrived.wait_for(lambda: channel in arrivals), timeout=30)
    attempts = (await api.get(f"/v1/jobs/{job_id}", headers=auth)).json()["attempts"]
    failed_at = datetime.fromisoformat(attempts[-1]["finished_at"])
    return (arrivals[channel] - failed_at).total_seconds() * 1000


async def main(tries: int) -> None:
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    receiver_url = f"http://127.0.0.1:{port}/hook"
    async with (
        httpx.AsyncClient(base_url=os.environ["HERALD_API_URL"]) as api,
        httpx.AsyncClient(base_url=os.environ["HERALD_SANDBOX_URL"]) as sandbox,
    ):
        await one(api, sandbox, receiver_url, -1)  # warm-up
        samples = []
        for n in range(tries):
            samples.append(await one(api, sandbox, receiver_url, n))
            await asyncio.sleep(0.2)  # idle between tries
    server.should_exit = True
    await serving
    samples.sort()
    print(
        f"failure→alert.raised delivered, over {tries} tries: median "
        f"{statistics.median(samples):.1f} ms, min {samples[0]:.1f} ms, max {samples[-1]:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
