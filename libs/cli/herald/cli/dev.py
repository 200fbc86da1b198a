"""``herald dev`` (what ``make run`` calls): the whole system on this machine.

nats-server (JetStream, fsync per message unless HERALD_DEV_NATS_SYNC=0) and PostgreSQL
(embedded, unless HERALD_DATABASE_URL names one) with data under ``.herald/``, migrations, the
sandbox and the four services as supervised processes, and a demo tenant. Ctrl-C stops it all.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import signal
import stat
import tempfile
import time
from pathlib import Path

import httpx

from herald.cli.devlog import print_line
from herald.cli.fleet import Fleet
from herald.cli.infra.nats_server import NatsServer
from herald.cli.infra.postgres import EmbeddedPostgres
from herald.cli.installation import Ports, service_specs, shared_env
from herald.common.db.migrate import upgrade


def say(message: str) -> None:
    print_line("herald", message)


def postgres_dir(home: Path) -> Path:
    """``.herald/postgres``, unless the server's own user could not reach it (root in /root)."""
    preferred = home / "postgres"
    if os.geteuid() != 0:
        return preferred
    for parent in preferred.absolute().parents:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            digest = hashlib.sha256(str(home.absolute()).encode()).hexdigest()[:10]
            return Path(tempfile.gettempdir()) / f"herald-dev-{digest}" / "postgres"
    return preferred


def operator_token(home: Path) -> str:
    """A random operator token, made once per ``.herald`` folder."""
    path = home / "operator_token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


async def ensure_demo(api: str, token: str, home: Path) -> dict[str, str]:
    """Reuse the demo tenant of ``demo.env`` if its key still works, else create one."""
    saved = read_env(home / "demo.env")
    async with httpx.AsyncClient(base_url=api, timeout=10) as client:
        if saved.get("HERALD_API_KEY") and saved.get("HERALD_DEMO_CHANNEL_ID"):
            check = await client.get(
                f"/v1/channels/{saved['HERALD_DEMO_CHANNEL_ID']}",
                headers={"Authorization": f"Bearer {saved['HERALD_API_KEY']}"},
            )
            if check.status_code == 200:
                return saved
        created = await client.post(
            "/v1/tenants", json={"name": "demo"}, headers={"Authorization": f"Bearer {token}"}
        )
        created.raise_for_status()
        key = created.json()["api_key"]
        channel = await client.post(
            "/v1/channels",
            json={
                "platform": "sandbox",
                "name": "Lobby screen",
                "config": {"account": "lobby"},
                "credentials": {"token": "demo-token"},
            },
            headers={"Authorization": f"Bearer {key}"},
        )
        channel.raise_for_status()
    return {"HERALD_API_KEY": key, "HERALD_DEMO_CHANNEL_ID": channel.json()["id"]}


def read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip().strip('"') for k, v in pairs}


def write_env(path: Path, values: dict[str, str]) -> None:
    path.write_text("".join(f'{k}="{v}"\n' for k, v in values.items()))
    path.chmod(0o600)


def _interrupt(signum: int, _frame: object) -> None:
    # A terminal's Ctrl-C reaches every process of the group, and `uv run` forwards it too:
    # the second copy must not cut the clean stop short (leaving nats-server and PostgreSQL).
    signal.signal(signal.SIGINT, _already_stopping)
    signal.signal(signal.SIGTERM, _already_stopping)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _already_stopping(_signum: int, _frame: object) -> None:
    say("still stopping… (each service has 15 s to finish, then it is killed)")


def run_dev(home: Path) -> None:
    # SIGTERM (a supervisor, `kill`) stops as cleanly as Ctrl-C; SIGINT is set explicitly
    # because a shell that starts us in the background hands it down ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    ports = Ports.from_env()
    home.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("HERALD_DATABASE_URL")
    infra = ["nats", "nats_monitor"] + ([] if database_url else ["postgres"])
    ports.check_free([*infra, "sandbox", "api", "publisher", "alerter", "recovery"])
    sync = os.environ.get("HERALD_DEV_NATS_SYNC", "1") != "0"
    nats = NatsServer(
        home / "nats", port=ports.nats, monitor_port=ports.nats_monitor, sync_always=sync
    )
    postgres = None if database_url else EmbeddedPostgres(postgres_dir(home), port=ports.postgres)
    fleet: Fleet | None = None
    try:
        (home / "nats").mkdir(exist_ok=True)
        nats.start()
        say(f"nats-server {nats.url} (JetStream fsync {'every message' if sync else 'default'})")
        if postgres is not None:
            postgres.start()
            database_url = asyncio.run(postgres.create_database("herald"))
            say(f"postgres {postgres.dsn_for('herald')} (data in {postgres.data_dir})")
        assert database_url is not None
        asyncio.run(upgrade(database_url))
        say("migrations applied")
        token = operator_token(home)
        fleet = Fleet(
            service_specs(ports),
            print_line,
            shared_env(ports, database_url, nats.url, token, nats.monitor_url),
        )
        fleet.start()
        fleet.wait_ready(timeout=90)
        api = f"http://127.0.0.1:{ports.api}"
        demo = asyncio.run(ensure_demo(api, token, home))
        env = {
            "HERALD_API_URL": api,
            "HERALD_API_KEY": demo["HERALD_API_KEY"],
            "HERALD_OPERATOR_TOKEN": token,
            "HERALD_SANDBOX_URL": f"http://127.0.0.1:{ports.sandbox}",
            "HERALD_DEMO_CHANNEL_ID": demo["HERALD_DEMO_CHANNEL_ID"],
            "HERALD_METRICS_URLS": " ".join(
                f"{p.spec.base_url}/metrics" for p in fleet.processes.values()
            ),
        }
        write_env(home / "demo.env", env)
        _announce(env, home)
        while True:
            fleet.supervise_once(time.monotonic())
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping…")
    finally:
        if fleet is not None:
            fleet.stop()
        nats.stop()
        if postgres is not None:
            postgres.stop()
        say("stopped")


def _announce(env: dict[str, str], home: Path) -> None:
    say("Herald is running. Ctrl-C stops everything.")
    say(f"  API          {env['HERALD_API_URL']}   (docs: {env['HERALD_API_URL']}/docs)")
    say(f"  sandbox      {env['HERALD_SANDBOX_URL']}/posts?account=lobby")
    say(f"  demo API key {env['HERALD_API_KEY']}")
    say(f"  demo channel {env['HERALD_DEMO_CHANNEL_ID']}")
    say(f"  all of it in {home / 'demo.env'}: source it with  set -a; . {home}/demo.env; set +a")
    say(f"  metrics      {env['HERALD_METRICS_URLS']}")
