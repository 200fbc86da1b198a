"""``herald alerts``, ``herald silences`` and ``herald webhooks``: the alerting API from a shell.

Each command is one call of the HTTP API with the tenant's key (``HERALD_API_URL``,
``HERALD_API_KEY``), so the CLI sees exactly what the tenant's other clients see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from herald.cli.api_client import ApiClient, ApiError

alerts = typer.Typer(
    help="Alerts of your tenant (HERALD_API_URL, HERALD_API_KEY).", no_args_is_help=True
)
silences = typer.Typer(help="Mute alert notifications for a while.", no_args_is_help=True)
webhooks = typer.Typer(help="Webhook endpoints that receive alert events.", no_args_is_help=True)

ApiUrl = Annotated[str | None, typer.Option("--api-url", envvar="HERALD_API_URL", show_envvar=True)]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="HERALD_API_KEY", show_envvar=True, show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="print the API's JSON")]

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


@contextmanager
def _api(url: str | None, key: str | None) -> Iterator[ApiClient]:
    try:
        client = ApiClient(url, key)
    except ApiError as error:
        typer.echo(f"herald: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        yield client
    except ApiError as error:
        typer.echo(f"herald: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()


def _show(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def _rows(items: list[dict[str, Any]], line: Callable[[dict[str, Any]], str], empty: str) -> None:
    for item in items:
        typer.echo(line(item))
    if not items:
        typer.echo(empty)


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
    with _api(url, key) as api:
        page = api.call("GET", "/v1/alerts", params={**params, "limit": limit})
    if as_json:
        return _show(page)
    _rows(
        page["items"],
        lambda a: (
            f"{a['id']}  {a['status']:<12} {a['severity']:<8} x{a['occurrences']:<5} {a['message']}"
        ),
        "no alerts",
    )


@alerts.command("show")
def alerts_show(alert_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    with _api(url, key) as api:
        _show(api.call("GET", f"/v1/alerts/{alert_id}"))


@alerts.command("ack")
def alerts_ack(alert_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    """Acknowledge: someone is on it (repeats still count)."""
    with _api(url, key) as api:
        alert = api.call("POST", f"/v1/alerts/{alert_id}/acknowledge")
    typer.echo(f"{alert['id']} acknowledged")


@alerts.command("resolve")
def alerts_resolve(alert_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    """Resolve by hand; endpoints receive alert.resolved."""
    with _api(url, key) as api:
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
    with _api(url, key) as api:
        silence = api.call("POST", "/v1/silences", body={k: v for k, v in body.items() if v})
    typer.echo(f"silence {silence['id']} until {silence['ends_at']}")


@silences.command("list")
def silences_list(
    active: Annotated[bool | None, typer.Option("--active/--ended", help="only these")] = None,
    url: ApiUrl = None,
    key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    with _api(url, key) as api:
        page = api.call("GET", "/v1/silences", params={"active": active})
    if as_json:
        return _show(page)
    _rows(
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
    with _api(url, key) as api:
        api.call("DELETE", f"/v1/silences/{silence_id}")
    typer.echo(f"silence {silence_id} ended")


@webhooks.command("create")
def webhooks_create(
    target: Annotated[str, typer.Argument(metavar="URL", help="where to POST alert events")],
    event: Annotated[
        list[str] | None, typer.Option(help="alert.raised, alert.escalated, alert.resolved")
    ] = None,
    description: Annotated[str, typer.Option()] = "",
    url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Add an endpoint; its signing secret is printed once."""
    body: dict[str, Any] = {"url": target, "description": description}
    if event:
        body["events"] = event
    with _api(url, key) as api:
        endpoint = api.call("POST", "/v1/webhook-endpoints", body=body)
    typer.echo(f"endpoint {endpoint['id']}\nsecret   {endpoint['secret']}  (shown once)")


@webhooks.command("list")
def webhooks_list(url: ApiUrl = None, key: ApiKey = None, as_json: AsJson = False) -> None:
    with _api(url, key) as api:
        page = api.call("GET", "/v1/webhook-endpoints")
    if as_json:
        return _show(page)
    items = page["items"] if isinstance(page, dict) else page
    _rows(
        items,
        lambda e: f"{e['id']}  {e['url']}  {','.join(e['events']) or 'all events'}",
        "no endpoints",
    )


@webhooks.command("delete")
def webhooks_delete(endpoint_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    with _api(url, key) as api:
        api.call("DELETE", f"/v1/webhook-endpoints/{endpoint_id}")
    typer.echo(f"endpoint {endpoint_id} deleted")


@webhooks.command("test")
def webhooks_test(endpoint_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    """Send a webhook.test delivery; see it with ``herald webhooks deliveries``."""
    with _api(url, key) as api:
        delivery = api.call("POST", f"/v1/webhook-endpoints/{endpoint_id}/test")
    typer.echo(f"delivery {delivery['id']} {delivery['status']}")


@webhooks.command("rotate-secret")
def webhooks_rotate(endpoint_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    """A new secret (printed once); the old one keeps signing too until it expires."""
    with _api(url, key) as api:
        rotated = api.call("POST", f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret")
    typer.echo(
        f"secret {rotated['secret']}  (shown once; the previous one also signs until "
        f"{rotated['previous_secret_expires_at']})"
    )


@webhooks.command("deliveries")
def webhooks_deliveries(
    endpoint_id: str,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    url: ApiUrl = None,
    key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """The delivery log, newest first, with every try."""
    with _api(url, key) as api:
        page = api.call(
            "GET", f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params={"limit": limit}
        )
    if as_json:
        return _show(page)
    _rows(
        page["items"],
        lambda d: (
            f"{d['id']}  {d['event_type']:<16} {d['status']:<9} tries "
            + " ".join(str(t.get("http_status") or t.get("outcome")) for t in d["tries"])
        ),
        "no deliveries",
    )
