"""What the API-calling commands share: where and as whom, one-line errors, and output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from herald.cli.api_client import ApiClient, ApiError

ApiUrl = Annotated[str | None, typer.Option("--api-url", envvar="HERALD_API_URL", show_envvar=True)]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="HERALD_API_KEY", show_envvar=True, show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="print the API's JSON")]


@contextmanager
def calling_api(url: str | None, key: str | None) -> Iterator[ApiClient]:
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


def show(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def rows(items: list[dict[str, Any]], line: Callable[[dict[str, Any]], str], empty: str) -> None:
    for item in items:
        typer.echo(line(item))
    if not items:
        typer.echo(empty)
