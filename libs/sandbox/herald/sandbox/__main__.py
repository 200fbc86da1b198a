"""Run the sandbox platform: ``python -m herald.sandbox``.

Environment:
    HERALD_SANDBOX_HOST: interface to bind (default ``127.0.0.1``).
    HERALD_SANDBOX_PORT: TCP port to bind, an integer 0-65535 (default ``8790``).

Access logging is off and uvicorn logs at ``warning`` so benchmarks are not slowed down.
A malformed port prints one line to stderr and exits with status 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import uvicorn

from herald.sandbox.app import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8790


class ConfigError(ValueError):
    """The environment holds an unusable setting; the message is one line for the user."""


def parse_port(raw: str | None) -> int:
    """Return the port in ``raw`` (``DEFAULT_PORT`` if None or blank), or raise ConfigError."""
    if raw is None or not raw.strip():
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"HERALD_SANDBOX_PORT must be an integer, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"HERALD_SANDBOX_PORT must be between 0 and 65535, got {port}")
    return port


def server_config(env: Mapping[str, str]) -> uvicorn.Config:
    """Return the uvicorn configuration described by ``env``; may raise ConfigError."""
    return uvicorn.Config(
        create_app(),
        host=env.get("HERALD_SANDBOX_HOST") or DEFAULT_HOST,
        port=parse_port(env.get("HERALD_SANDBOX_PORT")),
        access_log=False,
        log_level="warning",
        loop="auto",
    )


def main() -> int:
    """Serve until interrupted; return the process exit status."""
    try:
        config = server_config(os.environ)
    except ConfigError as exc:
        print(f"herald.sandbox: {exc}", file=sys.stderr)
        return 2
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
