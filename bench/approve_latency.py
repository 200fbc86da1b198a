"""Approve → succeeded latency of single assets at idle, against a running `make run`.

Usage: set -a; . .herald/demo.env; set +a; uv run python bench/approve_latency.py [tries]
Measures with the server's own clocks: the asset's ``approved_at`` to the job's ``finished_at``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
from datetime import datetime

import httpx


async def one(client: httpx.AsyncClient, channel: str, n: int) -> float:
    asset = await client.post(
        "/v1/assets", json={"title": f"latency {n}", "body": "probe", "channel_ids": [channel]}
    )
    asset.raise_for_status()
    approved = await client.post(f"/v1/assets/{asset.json()['id']}/approve")
    approved.raise_for_status()
    body = approved.json()
    job_id = body["jobs"][0]["id"]
    while True:
        job = (await client.get(f"/v1/jobs/{job_id}")).json()
        if job["status"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.005)
    finished = datetime.fromisoformat(job["finished_at"])
    return (finished - datetime.fromisoformat(body["approved_at"])).total_seconds() * 1000


async def main(tries: int) -> None:
    headers = {"Authorization": f"Bearer {os.environ['HERALD_API_KEY']}"}
    async with httpx.AsyncClient(base_url=os.environ["HERALD_API_URL"], headers=headers) as c:
        channel = os.environ["HERALD_DEMO_CHANNEL_ID"]
        await one(c, channel, -1)  # warm-up
        samples = []
        for n in range(tries):
            samples.append(await one(c, channel, n))
            await asyncio.sleep(0.2)  # idle between tries
    samples.sort()
    print(
        f"approve→succeeded over {tries} tries: median {statistics.median(samples):.1f} ms, "
        f"min {samples[0]:.1f} ms, max {samples[-1]:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
