"""Apply Alembic migrations programmatically (``herald migrate``, ``herald dev``, tests).

Concurrent callers serialise on a PostgreSQL advisory lock, so several replicas starting at
once cannot race each other through the same migration.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_ID = 0x4E52414C44  # "HERALD" in spirit: a fixed advisory-lock key for migrations


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _upgrade(connection: Connection, url: str, revision: str) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": LOCK_ID})
    try:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade, url, revision)
            await connection.commit()
    finally:
        await engine.dispose()
