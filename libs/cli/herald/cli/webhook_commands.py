"""``herald webhooks``: the tenant's webhook endpoints, their test sends and delivery log."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from herald.cli.api_commands import ApiKey, ApiUrl, AsJson, calling_api, rows, show

webhooks = typer.Typer(help="Webhook endpoints that receive alert events.", no_args_is_help=True)


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
    with calling_api(url, key) as api:
        endpoint = api.call("POST", "/v1/webhook-endpoints", body=body)
    typer.echo(f"endpoint {endpoint['id']}\nsecret   {endpoint['secret']}  (shown once)")


@webhooks.command("list")
def webhooks_list(url: ApiUrl = None, key: ApiKey = None, as_json: AsJson = False) -> None:
    with calling_api(url, key) as api:
        page = api.call("GET", "/v1/webhook-endpoints")
    if as_json:
        return show(page)
    items = page["items"] if isinstance(page, dict) else page
    rows(
        items,
        lambda e: f"{e['id']}  {e['url']}  {','.join(e['events']) or 'all events'}",
        "no endpoints",
    )


@webhooks.command("delete")
def webhooks_delete(endpoint_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    with calling_api(url, key) as api:
        api.call("DELETE", f"/v1/webhook-endpoints/{endpoint_id}")
    typer.echo(f"endpoint {endpoint_id} deleted")


@webhooks.command("test")
def webhooks_test(endpoint_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    """Send a webhook.test delivery; see it with ``herald webhooks deliveries``."""
    with calling_api(url, key) as api:
        delivery = api.call("POST", f"/v1/webhook-endpoints/{endpoint_id}/test")
    typer.echo(f"delivery {delivery['id']} {delivery['status']}")


@webhooks.command("rotate-secret")
def webhooks_rotate(endpoint_id: str, url: ApiUrl = None, key: ApiKey = None) -> None:
    """A new secret (printed once); the old one keeps signing too until it expires."""
    with calling_api(url, key) as api:
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
    with calling_api(url, key) as api:
        page = api.call(
            "GET", f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params={"limit": limit}
        )
    if as_json:
        return show(page)
    rows(
        page["items"],
        lambda d: (
            f"{d['id']}  {d['event_type']:<16} {d['status']:<9} tries "
            + " ".join(str(t.get("http_status") or t.get("outcome")) for t in d["tries"])
        ),
        "no deliveries",
    )
