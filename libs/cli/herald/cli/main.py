"""``herald``: the operator CLI. Every command exits non-zero with a one-line reason."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from herald.api.tenancy import create_tenant
from herald.cli.infra.ports import PortInUseError
from herald.common.db.engine import Database
from herald.common.db.migrate import upgrade
from herald.common.settings import HeraldSettings, load_settings

app = typer.Typer(
    help="Herald: reliable multi-tenant publishing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
tenants = typer.Typer(help="Manage tenants.", no_args_is_help=True)
app.add_typer(tenants, name="tenants")


def fail(message: str) -> typer.Exit:
    typer.echo(f"herald: {message}", err=True)
    return typer.Exit(1)


@app.command()
def dev(
    home: Annotated[Path, typer.Option(help="where local data lives")] = Path(".herald"),
) -> None:
    """Run the whole system locally (nats-server, PostgreSQL, services, sandbox, demo tenant)."""
    from herald.cli.dev import run_dev

    try:
        run_dev(home)
    except (PortInUseError, ValueError, FileNotFoundError, PermissionError) as error:
        raise fail(str(error)) from None


@app.command()
def migrate() -> None:
    """Apply database migrations to HERALD_DATABASE_URL."""
    settings = load_settings(HeraldSettings)
    try:
        asyncio.run(upgrade(settings.database_url))
    except OSError as error:
        raise fail(f"cannot reach the database: {error}") from None
    typer.echo("migrations applied")


@tenants.command("create")
def tenants_create(name: Annotated[str, typer.Argument(help="display name")]) -> None:
    """Create a tenant and print its first admin API key (shown once)."""
    if not name.strip():
        raise fail("the tenant name must not be empty")
    settings = load_settings(HeraldSettings)

    async def create() -> tuple[str, str]:
        db = Database(settings.database_url, pool_size=1)
        try:
            async with db.transaction() as session:
                tenant, key = await create_tenant(session, name.strip())
            return str(tenant.id), key
        finally:
            await db.dispose()

    try:
        tenant_id, key = asyncio.run(create())
    except OSError as error:
        raise fail(f"cannot reach the database: {error}") from None
    typer.echo(f"tenant  {tenant_id}\napi key {key}")


if __name__ == "__main__":
    app()
