"""One local Herald installation: which services run, on which ports, with which settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from herald.cli.fleet import ServiceSpec
from herald.cli.infra.ports import PortInUseError, port_in_use


@dataclass(frozen=True)
class Ports:
    """Defaults chosen to stay clear of a NATS (4222) or PostgreSQL (5432) already running."""

    nats: int = 14222
    nats_monitor: int = 18222
    postgres: int = 15432
    api: int = 8000
    publisher: int = 8081
    alerter: int = 8082
    recovery: int = 8083
    sandbox: int = 8790

    @classmethod
    def from_env(cls) -> Ports:
        """Each port can be moved with ``HERALD_DEV_<NAME>_PORT``."""
        values: dict[str, int] = {}
        for item in fields(cls):
            variable = env_var(item.name)
            raw = os.environ.get(variable)
            if raw is not None:
                if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 65536:
                    raise ValueError(f"{variable}={raw!r} is not a port number")
                values[item.name] = int(raw)
        return cls(**values)

    def check_free(self, names: list[str]) -> None:
        """Raise ``PortInUseError`` (one clear line) for the first of ``names`` that is taken."""
        for name in names:
            port = getattr(self, name)
            if port_in_use("127.0.0.1", port):
                raise PortInUseError(port, "127.0.0.1", name, env_var(name))


def env_var(name: str) -> str:
    return f"HERALD_DEV_{name.upper()}_PORT"


def service_specs(ports: Ports) -> list[ServiceSpec]:
    """The sandbox and the four services, each its own process."""
    sandbox_env = {"HERALD_SANDBOX_PORT": str(ports.sandbox)}
    return [
        ServiceSpec("sandbox", "herald.sandbox", ports.sandbox, sandbox_env, ready_path="/healthz"),
        ServiceSpec("api", "herald.api", ports.api, {"HERALD_HTTP_PORT": str(ports.api)}),
        ServiceSpec(
            "publisher",
            "herald.publisher",
            ports.publisher,
            {"HERALD_HTTP_PORT": str(ports.publisher)},
        ),
        ServiceSpec(
            "alerter", "herald.alerter", ports.alerter, {"HERALD_HTTP_PORT": str(ports.alerter)}
        ),
        ServiceSpec(
            "recovery", "herald.recovery", ports.recovery, {"HERALD_HTTP_PORT": str(ports.recovery)}
        ),
    ]


def shared_env(
    ports: Ports,
    database_url: str,
    nats_url: str,
    operator_token: str,
    nats_monitor_url: str = "",
) -> dict[str, str]:
    """Settings every service of the installation receives."""
    return {
        "HERALD_DATABASE_URL": database_url,
        "HERALD_NATS_URL": nats_url,
        "HERALD_SANDBOX_URL": f"http://127.0.0.1:{ports.sandbox}",
        "HERALD_OPERATOR_TOKEN": operator_token,
        "HERALD_NATS_MONITOR_URL": nats_monitor_url,
        "HERALD_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # receivers on this machine
        "HERALD_PUBLIC_URL": f"http://127.0.0.1:{ports.api}",  # where OAuth sends users back
    }
