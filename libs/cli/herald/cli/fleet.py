"""Herald's services as separate child processes: started, watched, restarted, stopped.

``herald dev`` and the end-to-end tests use the same fleet, so what the tests prove is what a
developer runs. Each child runs in its own session: Ctrl-C reaches only the supervisor, which
then stops the children in order with SIGTERM (their graceful path), and SIGKILL if they hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

Sink = Callable[[str, str], None]
"""Receives (service name, one line of its output)."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str  # run as ``python -m module``
    port: int  # its HTTP port (/healthz, /readyz, /metrics)
    env: Mapping[str, str] = field(default_factory=dict)
    ready_path: str = "/readyz"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def restart_delay(recent_restarts: int, *, base_s: float = 0.5, cap_s: float = 30.0) -> float:
    """Backoff before restarting a service that died, growing with its recent restarts."""
    return float(min(cap_s, base_s * 2 ** min(max(0, recent_restarts), 64)))


class ServiceProcess:
    """One child process and the thread that forwards its output, line by line, to ``sink``;
    or, with ``log_dir``, the child writes its output to ``<log_dir>/<name>.log`` itself (no
    thread of ours reads it: the benchmarks' load generator shares the machine measured)."""

    STABLE_AFTER_S = 30.0  # a run this long resets the restart backoff

    def __init__(
        self,
        spec: ServiceSpec,
        sink: Sink,
        base_env: Mapping[str, str],
        log_dir: Path | None = None,
    ):
        self.spec, self._sink, self._base_env, self._log_dir = spec, sink, base_env, log_dir
        self.proc: subprocess.Popen[str] | None = None
        self.forwarder: threading.Thread | None = None  # the child's lines to the sink
        self.restarts = 0
        self.started_at = 0.0
        self.next_start_at = 0.0

    def start(self) -> None:
        env = {**os.environ, **self._base_env, **self.spec.env, "PYTHONUNBUFFERED": "1"}
        if self._log_dir is None:
            self.proc = self._popen(env, subprocess.PIPE)
            self.forwarder = threading.Thread(
                target=self._forward, args=(self.proc.stdout,), daemon=True
            )
            self.forwarder.start()
        else:
            with (self._log_dir / f"{self.spec.name}.log").open("ab") as log:  # the child's own
                self.proc = self._popen(env, log)
        self.started_at = time.monotonic()

    def _popen(self, env: dict[str, str], stdout: int | IO[bytes]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", self.spec.module],
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def _forward(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        with stream:  # closed at EOF: the process exited (a restart gets a new pipe)
            for line in stream:
                self._sink(self.spec.name, line.rstrip("\n"))

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive and self.proc is not None:
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        if self.proc is None:
            return
        if self.alive:
            self.signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.drain(5)

    def drain(self, timeout: float) -> bool:
        """Wait until every line the exited child wrote has reached the sink; whether it did
        within ``timeout`` (always, with a log file: nothing passes through here)."""
        if self.forwarder is not None:
            self.forwarder.join(timeout)
            return not self.forwarder.is_alive()
        return True

    def ready(self) -> bool:
        try:
            return httpx.get(self.spec.base_url + self.spec.ready_path, timeout=1).is_success
        except httpx.HTTPError:
            return False


class Fleet:
    """The services of one Herald installation on this machine."""

    def __init__(
        self,
        specs: list[ServiceSpec],
        sink: Sink,
        base_env: Mapping[str, str],
        *,
        log_dir: Path | None = None,
    ):
        """``sink`` gets every line of the services' output, or with ``log_dir`` only the
        supervisor's own (a restart); the services then write to files there."""
        self.processes = {
            spec.name: ServiceProcess(spec, sink, base_env, log_dir) for spec in specs
        }
        self._sink = sink

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]

    def start(self) -> None:
        for process in self.processes.values():
            process.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every service answers its readiness check, or raise naming the laggards."""
        deadline = time.monotonic() + timeout
        waiting = list(self.processes.values())
        while waiting and time.monotonic() < deadline:
            dead = [p.spec.name for p in waiting if not p.alive]
            if dead:
                raise RuntimeError(f"service exited during start-up: {', '.join(dead)}")
            waiting = [p for p in waiting if not p.ready()]
            if waiting:
                time.sleep(0.2)
        if waiting:
            names = ", ".join(p.spec.name for p in waiting)
            raise TimeoutError(f"not ready after {timeout:.0f}s: {names}")

    def supervise_once(self, now: float) -> None:
        """Restart any service that died, after a backoff that grows with repeated deaths."""
        for process in self.processes.values():
            if process.alive or process.proc is None:
                continue
            if process.next_start_at == 0.0:
                stable = now - process.started_at >= ServiceProcess.STABLE_AFTER_S
                process.restarts = 0 if stable else process.restarts + 1
                delay = restart_delay(process.restarts)
                process.next_start_at = now + delay
                self._sink(
                    process.spec.name,
                    f"exited with code {process.proc.returncode}; restarting in {delay:.1f}s",
                )
            elif now >= process.next_start_at:
                process.next_start_at = 0.0
                process.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every service; they shut down in parallel, each with its own grace period."""
        for process in self.processes.values():
            process.signal(signal.SIGCONT)
            process.signal(signal.SIGTERM)
        for process in self.processes.values():
            process.stop(timeout)
