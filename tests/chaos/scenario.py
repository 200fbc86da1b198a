"""One fault run: approve N jobs while publishers are killed (and paused) and nats-server and
PostgreSQL are restarted; then count what reached the sandbox. Shared by ``make chaos`` (long)
and ``tests/faults`` (short)."""

from __future__ import annotations

import asyncio
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from herald.cli.infra.nats_server import NatsCluster, NatsServer
from herald.common.db.engine import Database
from herald.common.db.models import OutboxMessage, PublishAttempt, PublishJob
from herald.common.events import Envelope, PublishRequested
from tests.chaos.installation import FAST_RECOVERY, OPERATOR_TOKEN, Installation

TERMINAL = ("succeeded", "failed", "cancelled", "missed")


@dataclass(frozen=True)
class Plan:
    assets: int = 100
    channels: int = 10  # jobs = assets * channels
    publisher_kills: int = 5
    publisher_pauses: int = 0  # SIGSTOP beyond the lease, then SIGCONT
    nats_restarts: int = 1
    nats_node_restarts: int = 0  # a cluster's PUBLISH stream leader killed, then restarted
    postgres_restarts: int = 1
    duplicate_requests: int = 50  # publish.requested again for jobs already requested
    poison_messages: bool = True  # an unreadable message and one of an unknown schema
    sandbox_delay_ms: int = 0  # every post takes this long: workers die with calls in flight
    fault_window_s: float = 20.0  # faults fall at random moments inside it
    drain_timeout_s: float = 240.0
    seed: int | None = None

    @property
    def jobs(self) -> int:
        return self.assets * self.channels


@dataclass
class Result:
    jobs: int = 0
    succeeded: int = 0
    posts: int = 0
    duplicates: int = 0  # platform calls that carried a key the platform had already seen
    lost: int = 0  # approved jobs never finished, or succeeded without their post
    contradicted: int = 0  # jobs recorded as not published whose post is at the platform
    failed: dict[str, int] = field(default_factory=dict)
    recovered: dict[str, int] = field(default_factory=dict)
    faults: list[tuple[float, str]] = field(default_factory=list)
    drain_s: float = 0.0  # from the start of the last fault to the last job finished
    takeovers: int = 0  # attempts still open (a dead or paused worker's) when another began

    @property
    def clean(self) -> bool:
        """Nothing lost, nothing doubled, the database agrees with the platform."""
        return (
            self.duplicates == 0
            and self.lost == 0
            and self.contradicted == 0
            and self.posts == self.succeeded
        )


async def run(installation: Installation, plan: Plan) -> Result:
    rng = random.Random(plan.seed)
    async with httpx.AsyncClient(base_url=installation.api_url, timeout=10) as api:
        auth, channels, accounts = await _tenant(api, plan.channels)
        if plan.sandbox_delay_ms:
            await _slow_sandbox(installation, accounts, plan)
        assets = [await _asset(api, auth, channels, n) for n in range(plan.assets)]
        started = time.monotonic()
        faults = asyncio.create_task(_inject(installation, plan, rng, started))
        await _approve_all(api, auth, assets, plan.fault_window_s)
        injected = await faults
    last_fault = max((t for t, _ in injected), default=0.0)
    db = Database(installation.database_url, pool_size=2)
    try:
        await _drained(db, plan)
        result = await _count(db, installation, accounts)
        result.drain_s = max(0.0, await _last_finished(db) - (started + last_fault))
    finally:
        await db.dispose()
    result.faults = injected
    return result


async def _tenant(
    api: httpx.AsyncClient, count: int
) -> tuple[dict[str, str], list[str], list[str]]:
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    created = (await api.post("/v1/tenants", json={"name": "chaos"}, headers=operator)).json()
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    channels, accounts = [], []
    for n in range(count):
        account = f"chaos-{n}-{uuid.uuid4().hex[:6]}"
        body = {
            "platform": "sandbox",
            "name": account,
            "config": {"account": account},
            "credentials": {"token": "chaos"},
        }
        response = await api.post("/v1/channels", json=body, headers=auth)
        response.raise_for_status()
        channels.append(response.json()["id"])
        accounts.append(account)
    return auth, channels, accounts


async def _slow_sandbox(installation: Installation, accounts: list[str], plan: Plan) -> None:
    slow = [{"status": 200, "delay_ms": plan.sandbox_delay_ms}] * (plan.assets * 2)
    async with httpx.AsyncClient(base_url=installation.sandbox_url) as sandbox:
        for account in accounts:
            response = await sandbox.post("/faults", json={"account": account, "responses": slow})
            response.raise_for_status()


async def _asset(api: httpx.AsyncClient, auth: dict[str, str], channels: list[str], n: int) -> str:
    body = {"title": f"chaos {n}", "body": "b", "channel_ids": channels}
    response = await api.post("/v1/assets", json=body, headers=auth)
    response.raise_for_status()
    return str(response.json()["id"])


async def _approve_all(
    api: httpx.AsyncClient, auth: dict[str, str], assets: list[str], window_s: float
) -> None:
    """Approve at a steady pace over the fault window; retry through outages until the API
    says approved (200) or already approved (409: an earlier try committed)."""
    gap = window_s / max(1, len(assets))
    for asset in assets:
        for attempt in range(600):
            try:
                response = await api.post(f"/v1/assets/{asset}/approve", headers=auth)
                if response.status_code in (200, 409):
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(min(1.0, 0.05 * (attempt + 1)))
        else:
            raise RuntimeError(f"asset {asset} could not be approved")
        await asyncio.sleep(gap)


async def _inject(
    installation: Installation, plan: Plan, rng: random.Random, started: float
) -> list[tuple[float, str]]:
    kinds = (
        ["kill"] * plan.publisher_kills
        + ["pause"] * plan.publisher_pauses
        + ["nats"] * plan.nats_restarts
        + ["nats-node"] * plan.nats_node_restarts
        + ["postgres"] * plan.postgres_restarts
        + (["duplicates"] if plan.duplicate_requests else [])
        + (["poison"] if plan.poison_messages else [])
    )
    schedule = sorted((rng.uniform(0.1, 0.9) * plan.fault_window_s, kind) for kind in kinds)
    done: list[tuple[float, str]] = []
    for at, kind in schedule:
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        began = time.monotonic() - started
        done.append((began, await _fault(installation, kind, rng, plan)))
    return done


async def _fault(installation: Installation, kind: str, rng: random.Random, plan: Plan) -> str:
    if kind in ("duplicates", "poison"):
        return await _messages(installation, kind, plan)
    if kind == "kill":
        name = rng.choice(["publisher", "publisher-2"])
        installation.fleet[name].signal(signal.SIGKILL)  # the supervisor restarts it
        return f"SIGKILL {name}"
    if kind == "pause":
        name = await _holding_a_job(installation, rng)
        process = installation.fleet[name]
        process.signal(signal.SIGSTOP)
        await asyncio.sleep(float(FAST_RECOVERY["HERALD_LEASE_S"]) + 2)  # its leases expire
        process.signal(signal.SIGCONT)
        return f"SIGSTOP {name} beyond its lease"
    if kind == "nats":
        server = installation.nats
        assert isinstance(server, NatsServer), "a cluster loses one node at a time (nats-node)"
        await asyncio.to_thread(server.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.start)
        return "nats-server SIGKILL + restart"
    if kind == "nats-node":
        return await _kill_stream_leader(installation)
    await asyncio.to_thread(installation.postgres.stop, "immediate")
    await asyncio.sleep(1.0)
    await asyncio.to_thread(installation.postgres.start)
    return "PostgreSQL stopped (immediate) + restart"


async def _kill_stream_leader(installation: Installation) -> str:
    """SIGKILL the node leading the PUBLISH stream (the hardest node to lose), then restart it
    on its data dir: it rejoins and catches up from the others."""
    cluster = installation.nats
    assert isinstance(cluster, NatsCluster), "nats-node faults need a cluster"
    client = await nats.connect(cluster.url.split(","))
    try:
        info = await client.jetstream().stream_info("PUBLISH")
        leader = info.cluster.leader if info.cluster is not None else None
    finally:
        await client.close()
    if leader is None:
        raise RuntimeError("the PUBLISH stream reports no leader")
    node = cluster.node(leader)
    await asyncio.to_thread(node.kill)
    await asyncio.sleep(2.0)
    await asyncio.to_thread(node.start, 30.0)
    return f"nats {leader} (PUBLISH stream leader) SIGKILL + restart"


async def _holding_a_job(installation: Installation, rng: random.Random) -> str:
    """A publisher that holds a job right now (so pausing it strands a call in flight), or
    either one if none does within a few seconds."""
    names = {
        f":{installation.fleet[name].pid}": name
        for name in ("publisher", "publisher-2")
        if installation.fleet[name].pid is not None
    }
    db = Database(installation.database_url, pool_size=1)
    try:
        for _ in range(100):
            async with db.transaction() as session:
                owners = await session.scalars(
                    select(PublishJob.lease_owner).where(PublishJob.status == "processing")
                )
                holding = [n for o in owners for pid, n in names.items() if (o or "").endswith(pid)]
            if holding:
                return rng.choice(holding)
            await asyncio.sleep(0.05)
    finally:
        await db.dispose()
    return rng.choice(["publisher", "publisher-2"])


async def _messages(installation: Installation, kind: str, plan: Plan) -> str:
    """Straight to JetStream, as a buggy or hostile publisher would."""
    subject = PublishRequested(job_id=uuid.uuid4()).subject_of()
    client = await nats.connect(installation.nats.url.split(","))
    try:
        js = client.jetstream()
        if kind == "poison":
            await _publish(js, subject, b"\x00 not an envelope")
            stranger = PublishRequested(job_id=uuid.uuid4())
            envelope = Envelope.wrap(
                stranger, tenant_id=None, subject_id=stranger.job_id, now=datetime.now(UTC)
            ).model_copy(update={"schema_version": 99})
            await _publish(js, subject, envelope.to_json())
            return "a poison message and one of an unknown schema"
        db = Database(installation.database_url, pool_size=1)
        try:
            async with db.transaction() as session:
                query = select(PublishJob.id, PublishJob.tenant_id).limit(plan.duplicate_requests)
                ids = list((await session.execute(query)).all())
        finally:
            await db.dispose()
        for job_id, tenant_id in ids:
            command = PublishRequested(job_id=job_id)
            now = datetime.now(UTC)
            envelope = Envelope.wrap(command, tenant_id=tenant_id, subject_id=job_id, now=now)
            await _publish(js, command.subject_of(), envelope.to_json())
        return f"{len(ids)} duplicate publish requests"
    finally:
        await client.drain()


async def _publish(js: JetStreamContext, subject: str, payload: bytes) -> None:
    """Through a cluster's leader elections, as any publisher would."""
    for attempt in range(100):
        try:
            await js.publish(subject, payload)
            return
        except (NoStreamResponseError, nats.errors.TimeoutError):
            await asyncio.sleep(min(1.0, 0.05 * (attempt + 1)))
    raise RuntimeError(f"JetStream did not take {subject}")


async def _drained(db: Database, plan: Plan) -> None:
    deadline = time.monotonic() + plan.drain_timeout_s
    while time.monotonic() < deadline:
        try:
            async with db.transaction() as session:
                done = await session.scalar(
                    select(func.count()).where(PublishJob.status.in_(TERMINAL))
                )
            if done == plan.jobs:
                return
        except OSError:  # the database may still be restarting
            pass
        await asyncio.sleep(0.25)


async def _count(db: Database, installation: Installation, accounts: list[str]) -> Result:
    async with db.transaction() as session:
        jobs = (
            await session.execute(
                select(
                    PublishJob.id,
                    PublishJob.status,
                    PublishJob.external_id,
                    PublishJob.last_error_code,
                )
            )
        ).all()
        recovered = await session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.subject == "herald.jobs.recovered")
        )
        reasons = Counter(
            str(Envelope.model_validate_json(p).data.get("reason")) for p in recovered
        )
        # a takeover: an attempt still open when the job's next began (a retry starts after
        # its predecessor closed). Its outcome is no mark: a paused worker's late result
        # replaces the new holder's "uncertain"
        earlier, later = aliased(PublishAttempt), aliased(PublishAttempt)
        takeovers = await session.scalar(
            select(func.count())
            .select_from(earlier)
            .join(
                later,
                (later.job_id == earlier.job_id) & (later.number == earlier.number + 1),
            )
            .where((earlier.finished_at.is_(None)) | (earlier.finished_at >= later.started_at))
        )
    posts: dict[str, dict[str, Any]] = {}
    deliveries = 0
    async with httpx.AsyncClient(base_url=installation.sandbox_url, timeout=30) as sandbox:
        for account in accounts:
            for post in (await sandbox.get("/posts", params={"account": account})).json():
                posts[post["idempotency_key"]] = post
                deliveries += int(post["deliveries"])
    result = Result(jobs=len(jobs), posts=len(posts), recovered=dict(reasons))
    result.takeovers = takeovers or 0
    result.duplicates = deliveries - len(posts)
    failed: Counter[str] = Counter()
    for job_id, status, external_id, error_code in jobs:
        post = posts.get(str(job_id))
        if status == "succeeded":
            result.succeeded += 1
            result.lost += post is None or post["id"] != external_id
        elif status in TERMINAL:
            failed[f"{status}:{error_code}"] += 1
            result.contradicted += post is not None
        else:
            result.lost += 1
    result.failed = dict(failed)
    return result


async def _last_finished(db: Database) -> float:
    """The newest finished_at, on this process's monotonic clock."""
    async with db.transaction() as session:
        newest, now = (
            await session.execute(select(func.max(PublishJob.finished_at), func.now()))
        ).one()
    return time.monotonic() - (now - newest).total_seconds() if newest else time.monotonic()
