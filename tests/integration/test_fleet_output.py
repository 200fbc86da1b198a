"""Where the fleet's children write: line by line to the supervisor's sink, or, with a
``log_dir``, to files of their own that a restart appends to. Real child processes."""

from __future__ import annotations

import time
from pathlib import Path

from herald.cli.fleet import Fleet, ServiceSpec

ZEN = "Beautiful is better than ugly."


def _zen(log_dir: Path | None) -> tuple[Fleet, list[str]]:
    """A fleet of one child that prints the Zen of Python and exits; the lines the sink got."""
    lines: list[str] = []
    fleet = Fleet(
        [ServiceSpec("zen", "this", 0)], lambda _, line: lines.append(line), {}, log_dir=log_dir
    )
    fleet.start()
    _wait_exit(fleet)
    return fleet, lines


def _wait_exit(fleet: Fleet) -> None:
    child = fleet["zen"].proc
    assert child is not None
    assert child.wait(timeout=30) == 0


def test_a_childs_output_goes_line_by_line_to_the_sink() -> None:
    fleet, lines = _zen(None)
    assert fleet["zen"].drain(10), "the forwarding thread reads to the end of the output"
    assert ZEN in lines


def test_with_a_log_dir_the_child_writes_its_own_file_and_a_restart_appends(
    tmp_path: Path,
) -> None:
    fleet, lines = _zen(tmp_path)
    assert (tmp_path / "zen.log").read_text().count(ZEN) == 1
    assert lines == []  # nothing of the child's passes through the supervisor
    now = time.monotonic()
    fleet.supervise_once(now)  # it exited: a restart is scheduled, and said so to the sink
    assert len(lines) == 1 and "exited with code 0" in lines[0]
    fleet.supervise_once(now + 60)
    _wait_exit(fleet)
    assert (tmp_path / "zen.log").read_text().count(ZEN) == 2
