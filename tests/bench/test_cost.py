"""The CPU meter counts the work of processes that ended during the measurement."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.cost import cpu_seconds

SPIN = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass"


def test_a_child_that_exited_is_counted_with_its_parent() -> None:
    before = cpu_seconds(os.getpid())
    subprocess.run([sys.executable, "-c", SPIN], check=True)  # spins 0.5 s, exits, is reaped
    assert cpu_seconds(os.getpid()) - before >= 0.4  # /proc counts whole ticks


def test_alone_leaves_the_children_out() -> None:
    before = cpu_seconds(os.getpid(), children=False)
    subprocess.run([sys.executable, "-c", SPIN], check=True)
    assert cpu_seconds(os.getpid(), children=False) - before < 0.4
