"""``herald alerts`` and ``herald silences``: the tenant's alerts and silences from a shell.

Each command is one call of the HTTP API with the tenant's key (``HERALD_API_URL``,
``HERALD_API_KEY``), so the CLI sees exactly what the tenant's other clients see.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from herald.cli.api_commands import ApiKey, ApiUrl, AsJson, calling_api, rows, show

alerts = typer.Typer(
    help="Alerts of your tenant (HERALD_API_URL, HERALD_API_KEY).", no_args_is_help=True
)
silences = typer.Typer(help="Mute alert notifications for a while.", no_args_is_help=True)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SILENCE = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """``30s``, ``90m``, ``2h``, ``1d`` → a timedelta; ValueError naming the input otherwise."""
    match = _DURATION.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 30m, 2h or 1d")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_SILENCE.total_seconds():
        raise ValueError(f"{text!r} is longer than a silence may last (366d)")
    return timedelta(seconds=seconds)


@alerts.command("list")
def alerts_list(
    url: ApiUrl = None,
    key: ApiKey = None,
    status: Annotated[str | None, typer.Option(help="active, acknowledged or resolved")] = None,
    severity: Annotated[str | None, typer.Option(help="info, warning, error or critical")] = None,
    category: Annotated[str | None, typer.Option()] = None,
    channel: Annotated[str | None, typer.Option(help="a channel id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    as_json: AsJson = False,
) -> None:
    """Newest first."""
    params = {"status": status, "severity": severity, "category": category, "channel_id": channel}
    with calling_api(url, key) as api:
        page = api.call("GET", "/v1/alerts", params={**params, "limit": limit})
    if as_json:
        return show(page)
    rows(
        page["items"],
        lambda a: (
            f"{a['id']}  {a['status']:<12} {a['severity']:<8} x{a['occurrences']:<5} {a['message']}"
        ),
        "no alerts",
    )


@alerts.command("show")
def alerts_show(alert_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    with calling_api(url, key) as api:
        show(api.call("GET", f"/v1/alerts/{alert_id}"))


@alerts.command("ack")
def alerts_ack(alert_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    """Acknowledge: someone is on it (repeats still count)."""
    with calling_api(url, key) as api:
        alert = api.call("POST", f"/v1/alerts/{alert_id}/acknowledge")
    typer.echo(f"{alert['id']} acknowledged")


@alerts.command("resolve")
def alerts_resolve(alert_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    """Resolve by hand; endpoints receive alert.resolved."""
    with calling_api(url, key) as api:
        alert = api.call("POST", f"/v1/alerts/{alert_id}/resolve")
    typer.echo(f"{alert['id']} resolved")


@silences.command("create")
def silences_create(
    reason: Annotated[str, typer.Option(help="why (required)")],
    duration: Annotated[str, typer.Option("--for", help="how long: 30m, 2h, 1d")] = "1h",
    channel: Annotated[str | None, typer.Option(help="mute this channel id")] = None,
    category: Annotated[str | None, typer.Option(help="mute this category")] = None,
    dedup_key: Annotated[str | None, typer.Option(help="mute this one alert key")] = None,
    url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Mute notifications of alerts matching every option given (alerts are still stored)."""
    try:
        ends_at = datetime.now(UTC) + parse_duration(duration)
    except ValueError as error:
        typer.echo(f"herald: --for: {error}", err=True)
        raise typer.Exit(2) from None
    body = {
        "reason": reason,
        "ends_at": ends_at.isoformat(),
        "channel_id": channel,
        "category": category,
        "dedup_key": dedup_key,
    }
    with calling_api(url, key) as api:
        silence = api.call("POST", "/v1/silences", body={k: v for k, v in body.items() if v})
    typer.echo(f"silence {silence['id']} until {silence['ends_at']}")


@silences.command("list")
def silences_list(
    active: Annotated[bool | None, typer.Option("--active/--ended", help="only these")] = None,
    url: ApiUrl = None,
    key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    with calling_api(url, key) as api:
        page = api.call("GET", "/v1/silences", params={"active": active})
    if as_json:
        return show(page)
    rows(
        page["items"],
        lambda s: (
            f"{s['id']}  {'active' if s['active'] else 'ended ':<6} until {s['ends_at']}  "
            f"{s['reason']}"
        ),
        "no silences",
    )


@silences.command("expire")
def silences_expire(silence_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    """End a silence now."""
    with calling_api(url, key) as api:
        api.call("DELETE", f"/v1/silences/{silence_id}")
    typer.echo(f"silence {silence_id} ended")
