"""A 3-node NATS cluster on loopback, streams with 3 replicas: 1,000 jobs while the node
leading the PUBLISH stream is killed and restarted → 1,000 posts, 0 duplicates."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from herald.cli.infra.nats_server import NatsCluster
from herald.common.streams import STREAMS
from tests.chaos.installation import Installation
from tests.chaos.scenario import Plan, run

ONE_NODE_LOST = Plan(
    assets=100,
    channels=10,
    publisher_kills=0,
    nats_restarts=0,
    nats_node_restarts=1,
    postgres_restarts=0,
    duplicate_requests=0,
    poison_messages=False,
    fault_window_s=10.0,
    drain_timeout_s=180.0,
    seed=11,
)


@pytest.fixture
async def clustered(infra_dir: Path) -> AsyncIterator[Installation]:
    own = Installation(Path(tempfile.mkdtemp(prefix="cluster-", dir=infra_dir)), nats_nodes=3)
    await asyncio.to_thread(own.start)
    yield own
    await asyncio.to_thread(own.stop)


async def test_a_thousand_jobs_survive_the_loss_of_the_stream_leader(
    clustered: Installation,
) -> None:
    assert isinstance(clustered.nats, NatsCluster)
    client = await nats.connect(clustered.nats.url.split(","))
    try:
        for spec in STREAMS:
            info = await client.jetstream().stream_info(spec.name)
            assert info.config.num_replicas == 3, spec.name
    finally:
        await client.close()

    result = await run(clustered, ONE_NODE_LOST)

    print(f"\n{result.faults} → drained {result.drain_s:.1f} s after the fault")
    (fault,) = [kind for _, kind in result.faults]
    assert fault.endswith("(PUBLISH stream leader) SIGKILL + restart")
    assert (result.jobs, result.succeeded, result.posts) == (1000, 1000, 1000)
    assert (result.duplicates, result.lost, result.contradicted) == (0, 0, 0)
