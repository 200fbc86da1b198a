"""What every benchmark runs against, started once per ``make bench``: an embedded PostgreSQL
(durable defaults: fsync on), two nats-servers (JetStream's default fsync, and
``sync_interval: always``), and the sandbox platform answering at once. Each suite takes a
fresh database of its own, migrated to head, so no run sees another's rows."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from herald.cli.infra.nats_server import NatsServer
from herald.cli.infra.ports import free_port
from herald.cli.infra.postgres import EmbeddedPostgres
from herald.common.db.migrate import upgrade

Fsync = Literal["default", "always"]
SANDBOX_TOKEN = "bench-token"  # noqa: S105 - the sandbox accepts any bearer token
_names = itertools.count()


@dataclass
class BenchEnv:
    home: Path
    postgres: EmbeddedPostgres = field(init=False)
    nats: dict[str, NatsServer] = field(init=False)
    sandbox_port: int = field(init=False)
    _sandbox: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)  # embedded PostgreSQL runs as its own user when we are root
        self.postgres = EmbeddedPostgres(self.home / "postgres")
        self.nats = {
            "always": NatsServer(self.home / "nats-always", sync_always=True),
            "default": NatsServer(self.home / "nats-default", sync_always=False),
        }
        self.sandbox_port = free_port()

    @classmethod
    def create(cls) -> BenchEnv:
        home = Path(tempfile.mkdtemp(prefix="herald-bench-", dir=tempfile.gettempdir()))
        return cls(home)

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def nats_url(self, fsync: Fsync) -> str:
        return self.nats[fsync].url

    def start(self) -> None:
        try:
            self.postgres.start()
            for server in self.nats.values():
                server.start()
            self._start_sandbox()
        except BaseException:
            self.stop()
            raise

    def _start_sandbox(self) -> None:
        env = {**os.environ, "HERALD_SANDBOX_PORT": str(self.sandbox_port)}
        with (self.home / "sandbox.log").open("ab") as log:  # the child keeps its own copy
            self._sandbox = subprocess.Popen(
                [sys.executable, "-m", "herald.sandbox"], env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.sandbox_url}/healthz", timeout=1):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the sandbox did not start; see {self.home / 'sandbox.log'}")

    @property
    def postgres_pid(self) -> int | None:
        """The postmaster (its children are the backends)."""
        try:
            return int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def infrastructure_pids(self, fsync: Fsync) -> dict[str, int]:
        """PostgreSQL, the nats-server in use and the sandbox: part of every job's cost."""
        pids = {
            "postgres": self.postgres_pid,
            "nats-server": self.nats[fsync].pid,
            "sandbox": self.sandbox_pid,
        }
        return {name: pid for name, pid in pids.items() if pid is not None}

    @property
    def sandbox_pid(self) -> int | None:
        return self._sandbox.pid if self._sandbox is not None else None

    async def database(self, prefix: str) -> str:
        """A fresh database migrated to head; its SQLAlchemy URL."""
        url = await self.postgres.create_database(f"{prefix}_{os.getpid()}_{next(_names)}")
        await upgrade(url)
        return url

    def stop(self) -> None:
        if self._sandbox is not None:
            self._sandbox.terminate()
            self._sandbox.wait(10)
            self._sandbox = None
        for server in self.nats.values():
            server.stop()
        self.postgres.stop(mode="fast")


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) → ``postgresql://…`` (asyncpg, psycopg)."""
    return "postgresql://" + url.split("://", 1)[1]


class Skip(Exception):
    """A suite that cannot run here (no broker, say); the message says why, once."""
