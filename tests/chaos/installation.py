"""A Herald installation of its own for fault runs: nats-server, PostgreSQL and the fleet
(sandbox, API, two publishers, alerter, recovery), each of which a run may kill and restart."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from herald.cli.fleet import Fleet, ServiceSpec
from herald.cli.infra.nats_server import NatsCluster, NatsServer
from herald.cli.infra.ports import free_port
from herald.cli.infra.postgres import EmbeddedPostgres
from herald.cli.installation import Ports, service_specs, shared_env
from herald.common.db.migrate import upgrade

OPERATOR_TOKEN = "chaos-operator-token"
FAST_RECOVERY = {
    "HERALD_LEASE_S": "3",  # a dead worker's lease runs out quickly
    "HERALD_CONSUMER_ACK_WAIT_S": "3",  # and JetStream redelivers its message quickly
    "HERALD_PLATFORM_TIMEOUT_S": "2",
    "HERALD_QUEUED_STALE_S": "5",  # a request JetStream lost is re-sent after 5 s
}


@dataclass
class Installation:
    """Start with ``start()``; ``supervise`` restarts dead services the way ``make run`` does."""

    home: Path
    sync_always: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    nats_nodes: int = 1  # 3: a cluster on loopback, streams with 3 replicas
    nats: NatsServer | NatsCluster = field(init=False)
    postgres: EmbeddedPostgres = field(init=False)
    fleet: Fleet = field(init=False)
    ports: Ports = field(init=False)
    database_url: str = ""
    _log: IO[str] | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)  # embedded PostgreSQL runs as its own user
        if self.nats_nodes > 1:
            self.nats = NatsCluster(
                self.home / "nats", self.nats_nodes, sync_always=self.sync_always
            )
            self.extra_env.setdefault("HERALD_STREAM_REPLICAS", str(self.nats_nodes))
        else:
            self.nats = NatsServer(self.home / "nats", sync_always=self.sync_always)
        self.postgres = EmbeddedPostgres(self.home / "postgres")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sandbox}"

    @property
    def log_file(self) -> Path:
        return self.home / "fleet.log"

    def start(self) -> None:
        """Start everything, or stop what did start and raise: nothing is left running."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.nats.start()
        self.postgres.start()
        self.database_url = asyncio.run(self._database())
        self.ports = Ports(
            **{n: free_port() for n in ("sandbox", "api", "publisher", "alerter", "recovery")}
        )
        second = free_port()
        specs = [
            *service_specs(self.ports),
            ServiceSpec(
                "publisher-2", "herald.publisher", second, {"HERALD_HTTP_PORT": str(second)}
            ),
        ]
        env = {
            **shared_env(self.ports, self.database_url, self.nats.url, OPERATOR_TOKEN),
            **FAST_RECOVERY,
            **self.extra_env,
        }
        self._log = log = self.log_file.open("a", buffering=1)

        def sink(name: str, line: str) -> None:
            log.write(f"{name:>11} | {line}\n")

        self.fleet = Fleet(specs, sink, env)
        self.fleet.start()
        try:
            self.fleet.wait_ready(timeout=90)
        except RuntimeError as error:  # say why: the last lines of the services that died
            dead = [name for name, process in self.fleet.processes.items() if not process.alive]
            raise RuntimeError(f"{error}\n{self._tail(dead)}") from None
        threading.Thread(target=self._supervise, daemon=True).start()

    def _tail(self, names: list[str], lines: int = 40) -> str:
        prefixes = tuple(f"{name:>11} | " for name in names)
        logged = self.log_file.read_text().splitlines()
        return "\n".join([line for line in logged if line.startswith(prefixes)][-lines:])

    async def _database(self) -> str:
        url = await self.postgres.create_database("herald_chaos")
        await upgrade(url)
        return url

    def _supervise(self) -> None:
        while not self._stopping.wait(0.1):  # a supervisor tick, like `herald dev`'s
            self.fleet.supervise_once(time.monotonic())

    def stop(self) -> None:
        self._stopping.set()
        if hasattr(self, "fleet"):
            self.fleet.stop()
        self.nats.stop()
        self.postgres.stop(mode="fast")
        if self._log is not None:
            self._log.close()
