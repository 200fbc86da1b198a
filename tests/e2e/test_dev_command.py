"""`herald dev` (what `make run` calls) as a user runs it: the README walkthrough, then Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from herald.cli.dev import read_env
from herald.cli.infra.ports import free_port

PORT_NAMES = (
    "nats",
    "nats_monitor",
    "postgres",
    "api",
    "publisher",
    "alerter",
    "recovery",
    "sandbox",
)


def _dev_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update({f"HERALD_DEV_{name.upper()}_PORT": str(free_port()) for name in PORT_NAMES})
    return env


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="herald-dev-", dir=tempfile.gettempdir()))
    path.chmod(0o755)  # the embedded PostgreSQL runs as its own user
    yield path / ".herald"
    subprocess.run(["rm", "-rf", str(path)], check=False)


def _start(home: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "herald.cli", "dev", "--home", str(home)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _written_after(path: Path, moment: float) -> bool:
    return path.exists() and path.stat().st_mtime > moment


def _wait_for_demo(
    process: subprocess.Popen[str], home: Path, timeout: float = 120, after: float = 0.0
) -> None:
    deadline = time.monotonic() + timeout
    while not _written_after(home / "demo.env", after):
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"herald dev did not come up:\n{output[-3000:]}")
        time.sleep(0.2)


def _left_running(marker: str, home: Path) -> list[int]:
    """Processes of this installation: they carry its unique port variable or its data dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker.encode() in environ or str(home) in cmdline:
            found.append(int(entry.name))
    return found


def test_make_run_walkthrough_then_ctrl_c_stops_everything(home: Path) -> None:
    env = _dev_env()
    process = _start(home, env)
    try:
        _wait_for_demo(process, home)
        demo = read_env(home / "demo.env")
        assert set(demo) >= {
            "HERALD_API_URL",
            "HERALD_API_KEY",
            "HERALD_OPERATOR_TOKEN",
            "HERALD_SANDBOX_URL",
            "HERALD_DEMO_CHANNEL_ID",
            "HERALD_METRICS_URLS",
        }
        assert len(demo["HERALD_METRICS_URLS"].split()) == 5
        auth = {"Authorization": f"Bearer {demo['HERALD_API_KEY']}"}
        with httpx.Client(base_url=demo["HERALD_API_URL"], headers=auth, timeout=10) as api:
            asset = api.post(
                "/v1/assets",
                json={
                    "title": "Grand opening",
                    "body": "Doors open at 9.",
                    "channel_ids": [demo["HERALD_DEMO_CHANNEL_ID"]],
                },
            ).json()
            job = api.post(f"/v1/assets/{asset['id']}/approve").json()["jobs"][0]
            deadline = time.monotonic() + 30
            while api.get(f"/v1/jobs/{job['id']}").json()["status"] != "succeeded":
                assert time.monotonic() < deadline, "the job did not succeed"
                time.sleep(0.1)
        posts = httpx.get(f"{demo['HERALD_SANDBOX_URL']}/posts", params={"account": "lobby"}).json()
        assert [p["idempotency_key"] for p in posts] == [job["id"]]
        for url in demo["HERALD_METRICS_URLS"].split():
            assert httpx.get(url).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-3000:]
    assert "stopped" in output.splitlines()[-1]
    sync_lines = [line for line in output.splitlines() if "jetstream.sync" in line]
    assert len(sync_lines) == 4, "every service logs JetStream's fsync setting at start-up"
    assert all("sync_always=True" in line for line in sync_lines)
    marker = f"HERALD_DEV_API_PORT={env['HERALD_DEV_API_PORT']}"
    assert _left_running(marker, home) == [], "nothing may be left running"


def _read_until(process: subprocess.Popen[str], text: str, timeout: float) -> str:
    """Lines of ``process``'s output up to and including the first that holds ``text``."""
    assert process.stdout is not None
    deadline, seen = time.monotonic() + timeout, []
    for line in process.stdout:
        seen.append(line)
        if text in line or time.monotonic() > deadline:
            break
    return "".join(seen)


def test_ctrl_c_twice_still_stops_everything(home: Path) -> None:
    """A terminal's Ctrl-C reaches every process of the group and `uv run` forwards it again:
    the second SIGINT arrives while the services stop, and must not cut that short."""
    env = _dev_env()
    process = _start(home, env)
    try:
        _wait_for_demo(process, home)
    finally:
        process.send_signal(signal.SIGINT)
        seen = _read_until(process, "stopping…", timeout=30)
        process.send_signal(signal.SIGINT)  # while the services are being stopped
        rest, _ = process.communicate(timeout=60)
    output = seen + rest
    assert process.returncode == 0, output[-3000:]
    assert "still stopping" in output
    assert "stopped" in output.splitlines()[-1]
    marker = f"HERALD_DEV_API_PORT={env['HERALD_DEV_API_PORT']}"
    assert _left_running(marker, home) == [], "nats-server and PostgreSQL stopped too"


def test_a_taken_port_is_reported_in_one_line(home: Path) -> None:
    env = _dev_env()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        env["HERALD_DEV_API_PORT"] = str(holder.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "herald.cli", "dev", "--home", str(home)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert env["HERALD_DEV_API_PORT"] in lines[0]
    assert "HERALD_DEV_API_PORT" in lines[0]
    assert not (home / "nats").exists(), "nothing starts when a port is taken"


def test_a_second_run_reuses_the_data(home: Path) -> None:
    env = _dev_env()
    first = _start(home, env)
    try:
        _wait_for_demo(first, home)
        demo = read_env(home / "demo.env")
        auth = {"Authorization": f"Bearer {demo['HERALD_API_KEY']}"}
        with httpx.Client(base_url=demo["HERALD_API_URL"], headers=auth, timeout=10) as api:
            asset = api.post(
                "/v1/assets",
                json={
                    "title": "kept",
                    "body": "b",
                    "channel_ids": [demo["HERALD_DEMO_CHANNEL_ID"]],
                },
            )
            assert asset.status_code == 201
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    stopped_at = time.time()
    second = _start(home, env)
    try:
        _wait_for_demo(second, home, after=stopped_at)  # written again: same tenant, same key
        again = read_env(home / "demo.env")
        assert again["HERALD_API_KEY"] == demo["HERALD_API_KEY"]
        assert again["HERALD_DEMO_CHANNEL_ID"] == demo["HERALD_DEMO_CHANNEL_ID"]
        with httpx.Client(base_url=again["HERALD_API_URL"], headers=auth, timeout=10) as api:
            kept = api.get(f"/v1/assets/{asset.json()['id']}")
        assert kept.status_code == 200
        assert kept.json()["title"] == "kept"
    finally:
        second.send_signal(signal.SIGINT)
        output, _ = second.communicate(timeout=60)
    assert second.returncode == 0, output[-3000:]
