"""``herald``: the operator CLI. Every command exits non-zero with a one-line reason."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated

import typer

from herald.api.service_layer.tenancy import create_tenant
from herald.cli import alerting, webhook_commands
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
jobs = typer.Typer(help="Operate on publish jobs.", no_args_is_help=True)
app.add_typer(jobs, name="jobs")
app.add_typer(alerting.alerts, name="alerts")
app.add_typer(alerting.silences, name="silences")
app.add_typer(webhook_commands.webhooks, name="webhooks")


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


@app.command()
def recover(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show, change nothing")] = False,
) -> None:
    """Run the recovery sweeps once: due scheduled jobs, lost requests, dead workers' jobs."""
    from herald.cli.recover import recover as run_recover
    from herald.recovery.settings import RecoverySettings

    settings = load_settings(RecoverySettings)
    try:
        found = asyncio.run(
            run_recover(settings.database_url, settings.sweep_policy(), dry_run, typer.echo)
        )
    except OSError as error:
        raise fail(f"cannot reach the database: {error}") from None
    verb = "would recover" if dry_run else "recovered"
    summary = ", ".join(f"{n} {reason}" for reason, n in sorted(found.items())) or "nothing"
    typer.echo(f"{verb}: {summary}")


@jobs.command("redrive")
def jobs_redrive(
    status: Annotated[
        str, typer.Option(help="failed, cancelled, missed or waiting_auth")
    ] = "failed",
    platform: Annotated[str | None, typer.Option(help="only jobs of this platform")] = None,
    tenant: Annotated[str | None, typer.Option(help="only jobs of this tenant id")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many jobs")] = 10_000,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, change nothing")] = False,
) -> None:
    """Send failed (or cancelled) jobs back to the queue with a fresh attempt budget."""
    from herald.api.service_layer.job_control import RedriveFilter
    from herald.cli.redrive import redrive

    if status not in ("failed", "cancelled", "missed", "waiting_auth"):
        raise fail(f"--status must be failed, cancelled, missed or waiting_auth, not {status!r}")
    try:
        tenant_id = uuid.UUID(tenant) if tenant else None
    except ValueError:
        raise fail(f"--tenant {tenant!r} is not a tenant id (UUID)") from None
    settings = load_settings(HeraldSettings)
    selection = RedriveFilter(status, platform, tenant_id, limit=limit)
    try:
        count = asyncio.run(redrive(settings.database_url, selection, dry_run, typer.echo))
    except OSError as error:
        raise fail(f"cannot reach the database: {error}") from None
    verb = "would requeue" if dry_run else "requeued"
    typer.echo(
        f"{verb} {count} job(s)"
        + ("" if dry_run else "; the running services publish them within seconds")
    )


if __name__ == "__main__":
    app()
