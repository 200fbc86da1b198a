"""CPU seconds and peak RSS of the processes that do the work, read from the kernel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psutil


def _family(pid: int) -> list[psutil.Process]:
    """The process and its children (PostgreSQL's backends, Celery's pool)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """CPU of the process, and with ``children`` of its descendants: the live ones' own, and
    the exited ones' as the kernel added it to their parent when it reaped them (a PostgreSQL
    backend whose connection closed mid-run still counts)."""
    total = 0.0
    family = _family(pid) if children else _family(pid)[:1]
    for process in family:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
        if children:
            total += times.children_user + times.children_system
    return total


def peak_rss_mb(pid: int) -> float:
    """The high-water mark of resident memory (VmHWM) of the process itself."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class CpuMeter:
    """CPU used by named processes (with their children) between ``start`` and ``stop``."""

    pids: Mapping[str, int]
    alone: frozenset[str] = frozenset()  # counted without their children (the bench itself)
    _start: dict[str, float] | None = None

    def _read(self) -> dict[str, float]:
        return {
            name: cpu_seconds(pid, children=name not in self.alone)
            for name, pid in self.pids.items()
        }

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        assert self._start is not None, "start() first"
        return {name: max(0.0, v - self._start[name]) for name, v in self._read().items()}
