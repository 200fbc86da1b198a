"""The one job every baseline does, written the way Herald writes it: a ``publish_jobs`` row
(queued), a claim (processing, leased), the same ``POST /posts`` to the sandbox with the job id
as Idempotency-Key, a ``publish_attempts`` row, and the job marked succeeded with the post's id.

The raw loop, Celery and dramatiq all use these statements, on a database migrated to Herald's
schema, so the comparison is of the machinery around the job, not of the job."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from herald.common.ids import new_id


@dataclass(frozen=True)
class Seed:
    tenant_id: uuid.UUID
    channel_id: uuid.UUID
    account: str
    asset_ids: list[uuid.UUID]


INSERT_JOB = """
INSERT INTO publish_jobs (id, tenant_id, asset_id, channel_id, platform, status, priority,
                          attempts, version, attempt_base, queued_at, requested_at)
VALUES ($1, $2, $3, $4, 'sandbox', 'queued', 'normal', 0, 1, 0, now(), now())
"""
CLAIM_JOB = """
UPDATE publish_jobs
   SET status = 'processing', lease_owner = $2, lease_expires_at = now() + interval '30 s',
       attempts = attempts + 1, version = version + 1, updated_at = now()
 WHERE id = $1 AND status = 'queued'
RETURNING tenant_id, attempts, version
"""
INSERT_ATTEMPT = """
INSERT INTO publish_attempts (id, tenant_id, job_id, number, worker, fencing_token, started_at,
                              finished_at, outcome, http_status, duration_ms, external_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, now(), 'succeeded', 200, $8, $9)
"""
FINISH_JOB = """
UPDATE publish_jobs
   SET status = 'succeeded', external_id = $3, finished_at = now(), lease_owner = NULL,
       lease_expires_at = NULL, updated_at = now()
 WHERE id = $1 AND version = $2 AND status = 'processing'
"""
SUCCEEDED = "SELECT count(*) FROM publish_jobs WHERE status = 'succeeded'"
LATENCIES_MS = """
SELECT extract(epoch FROM finished_at - queued_at) * 1000 FROM publish_jobs
 WHERE status = 'succeeded' ORDER BY finished_at
"""
FINISHED = """
SELECT id::text, extract(epoch FROM finished_at) FROM publish_jobs WHERE status = 'succeeded'
"""
"""Each finished job and when: its latency runs from when the load generator offered it."""


async def seed(dsn: str, assets: int, account: str = "bench") -> Seed:
    """A tenant, a sandbox channel and ``assets`` approved assets (one job each)."""
    tenant, channel = new_id(), new_id()
    asset_ids = [new_id() for _ in range(assets)]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO tenants (id, name) VALUES ($1, 'bench')", tenant)
            await conn.execute(
                "INSERT INTO channels (id, tenant_id, platform, name, config) "
                "VALUES ($1, $2, 'sandbox', 'bench', jsonb_build_object('account', $3::text))",
                channel,
                tenant,
                account,
            )
            await conn.copy_records_to_table(
                "assets",
                records=[(a, tenant, "bench", "b", [channel], "approved") for a in asset_ids],
                columns=["id", "tenant_id", "title", "body", "channel_ids", "status"],
            )
    finally:
        await conn.close()
    return Seed(tenant, channel, account, asset_ids)


def post_body(seed: Seed) -> dict[str, object]:
    """What the publisher's sandbox adapter sends for a job of the bench asset."""
    return {"account": seed.account, "body": "bench\n\nb", "media": []}


def post_headers(job_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": "Bearer bench-token", "Idempotency-Key": str(job_id)}
