"""A fleet per test, with fault points armed in chosen services, on a database of its own."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import pytest

from herald.cli.fleet import Fleet
from herald.cli.infra.ports import free_port
from herald.cli.installation import Ports, service_specs, shared_env
from tests.conftest import fresh_database
from tests.e2e.conftest import OPERATOR_TOKEN, System

FAST_RECOVERY = {
    "HERALD_LEASE_S": "3",  # a dead worker's lease runs out quickly
    "HERALD_CONSUMER_ACK_WAIT_S": "3",  # and JetStream redelivers its message quickly
    "HERALD_PLATFORM_TIMEOUT_S": "2",
}

StartFleet = Callable[[dict[str, dict[str, str]]], System]


@pytest.fixture
def start_fleet(infra_dir: Path, nats_url: str, postgres_admin_url: str) -> Iterator[StartFleet]:
    fleets: list[Fleet] = []
    logs: list[IO[str]] = []

    def start(faults: dict[str, dict[str, str]]) -> System:
        with ThreadPoolExecutor(1) as pool:  # the test's event loop is running in this thread
            database_url = pool.submit(fresh_database, postgres_admin_url, "herald_faults").result()
        ports = Ports(
            **{name: free_port() for name in ("sandbox", "api", "publisher", "alerter", "recovery")}
        )
        specs = [
            spec
            if spec.name not in faults
            else type(spec)(
                spec.name,
                spec.module,
                spec.port,
                {**spec.env, **faults[spec.name]},
                spec.ready_path,
            )
            for spec in service_specs(ports)
        ]
        log = (infra_dir / f"faults-{time.monotonic_ns()}.log").open("a", buffering=1)
        logs.append(log)

        def sink(name: str, line: str) -> None:
            log.write(f"{name:>9} | {line}\n")

        env = {**shared_env(ports, database_url, nats_url, OPERATOR_TOKEN), **FAST_RECOVERY}
        fleet = Fleet(specs, sink, env)
        fleets.append(fleet)
        fleet.start()
        fleet.wait_ready(timeout=90)
        return System(
            fleet,
            f"http://127.0.0.1:{ports.api}",
            f"http://127.0.0.1:{ports.sandbox}",
            database_url,
            nats_url,
            Path(log.name),
        )

    yield start
    for fleet in fleets:
        fleet.stop()
    for log in logs:
        log.close()
