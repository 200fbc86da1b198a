"""``herald``: the operator CLI. Every command exits non-zero with a one-line reason."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from herald.cli import alerting, webhook_commands
from herald.cli.infra.ports import PortInUseError
from herald.common.settings import HeraldSettings, load_settings

if TYPE_CHECKING:
    from herald.common.db.engine import Database

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


def _database(url: str) -> Database:
    from herald.common.db.engine import Database  # SQLAlchemy: imported by the commands only

    return Database(url, pool_size=1)


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
        from herald.common.db.migrate import upgrade  # alembic: only here

        asyncio.run(upgrade(settings.database_url))
    except OSError as error:
        raise fail(f"cannot reach the database: {error}") from None
    typer.echo("migrations applied")


@tenants.command("create")
def tenants_create(name: Annotated[str, typer.Argument(help="display name")]) -> None:
    """Create a tenant and print its first admin API key (shown once)."""
    from herald.api.service_layer.tenancy import create_tenant  # the API's stack: only here

    if not name.strip():
        raise fail("the tenant name must not be empty")
    settings = load_settings(HeraldSettings)

    async def create() -> tuple[str, str]:
        db = _database(settings.database_url)
        try:
            async with db.transaction() as session:
                tenant, key = await create_tenant(session, name.strip(), actor="cli")
            return str(tenant.id), key
        finally:
            await db.dispose()

    try:
        tenant_id, key = asyncio.run(create())
    except OSError as error:
        raise fail(f"cannot reach the database: {error}") from None
    typer.echo(f"tenant  {tenant_id}\napi key {key}")


api_keys_app = typer.Typer(help="Create and revoke tenants' API keys.", no_args_is_help=True)
app.add_typer(api_keys_app, name="api-keys")
ROLES = ("admin", "reviewer", "editor", "viewer")


def _tenant_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise fail(f"{value!r} is not a tenant id (UUID)") from None


@api_keys_app.command("create")
def api_keys_create(
    tenant: Annotated[str, typer.Option(help="tenant id")],
    role: Annotated[str, typer.Option(help="admin, reviewer, editor or viewer")],
    name: Annotated[str, typer.Option(help="what the key is for")] = "cli key",
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, help="unusable after this many days")
    ] = None,
) -> None:
    """Create an API key and print it (shown once; only its digest is stored)."""
    from datetime import UTC, datetime, timedelta

    from herald.api.auth import Role
    from herald.api.service_layer import api_keys, audit
    from herald.common.db.models import Tenant

    if role not in ROLES:
        raise fail(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name.strip():
        raise fail("--name must not be empty")
    tenant_id = _tenant_id(tenant)
    now = datetime.now(UTC)
    expires = now + timedelta(days=expires_in_days) if expires_in_days else None

    async def create() -> tuple[str, str] | None:
        db = _database(load_settings(HeraldSettings).database_url)
        try:
            async with db.transaction() as session:
                if await session.get(Tenant, tenant_id) is None:
                    return None
                key, plain = api_keys.create(
                    session, tenant_id, name.strip(), Role(role), now, expires
                )
                audit.record(
                    session, tenant_id, audit.CLI, "api_key.created", "api_key", key.id, role=role
                )
            return str(key.id), plain
        finally:
            await db.dispose()

    try:
        created = asyncio.run(create())
    except OSError as error:
        raise fail(f"cannot reach the database: {error}") from None
    if created is None:
        raise fail(f"no tenant {tenant_id}")
    typer.echo(f"key id  {created[0]}\napi key {created[1]}")


@api_keys_app.command("revoke")
def api_keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (GET /v1/api-keys lists them)")],
) -> None:
    """Revoke an API key at once (even a tenant's last admin key: the CLI is the way back)."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from herald.api.service_layer import audit
    from herald.common.db.models import ApiKey

    try:
        target = uuid.UUID(key_id)
    except ValueError:
        raise fail(f"{key_id!r} is not an API key id (UUID)") from None

    async def revoke() -> uuid.UUID | None:
        db = _database(load_settings(HeraldSettings).database_url)
        try:
            async with db.transaction() as session:
                tenant_id = await session.scalar(
                    update(ApiKey)
                    .where(ApiKey.id == target, ApiKey.revoked_at.is_(None))
                    .values(revoked_at=datetime.now(UTC))
                    .returning(ApiKey.tenant_id)
                )
                if tenant_id is not None:
                    audit.record(
                        session, tenant_id, audit.CLI, "api_key.revoked", "api_key", target
                    )
                return tenant_id
        finally:
            await db.dispose()

    try:
        tenant_id = asyncio.run(revoke())
    except OSError as error:
        raise fail(f"cannot reach the database: {error}") from None
    if tenant_id is None:
        raise fail(f"no live API key {target} (unknown, or already revoked)")
    typer.echo(f"revoked {target} (tenant {tenant_id})")


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


keys = typer.Typer(help="Manage the credential encryption keys.", no_args_is_help=True)
app.add_typer(keys, name="keys")


@keys.command("rotate")
def keys_rotate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, change nothing")] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="values re-sealed per transaction")
    ] = 500,
) -> None:
    """Re-seal every channel credential and webhook secret with the active key (see README)."""
    from herald.cli.key_rotation import KeyRing, RotationError, rotate

    settings = load_settings(HeraldSettings)

    async def run(ring: KeyRing) -> dict[str, int]:
        db = _database(settings.database_url)
        try:
            return await rotate(db, ring, typer.echo, dry_run=dry_run, batch=batch_size)
        finally:
            await db.dispose()

    try:
        ring = KeyRing.from_settings(settings.credential_keys, settings.credential_active_key)
        counts = asyncio.run(run(ring))
    except RotationError as error:
        raise fail(str(error)) from None
    except OSError as error:
        raise fail(f"cannot reach the database: {error}") from None
    summary = ", ".join(f"{n} {label}" for label, n in counts.items() if n) or "nothing"
    verb = "would re-seal" if dry_run else "re-sealed"
    typer.echo(f"{verb} {summary} with key {ring.box.active_key_id!r}")


if __name__ == "__main__":
    app()
