"""Port checks and failure reports shared by the local NATS and PostgreSQL launchers.

`herald dev` runs on a developer's own machine, where another NATS or PostgreSQL (or an old
`herald dev`) may already hold the port we want. Failing early with one line that names the
port, the service and the setting to change is friendlier than a server log full of
"address already in use".
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

__all__ = ["PortInUseError", "free_port", "log_tail", "port_in_use"]


class PortInUseError(Exception):
    """A fixed port that a local server needs is already bound by someone else."""

    def __init__(self, port: int, host: str, service: str, env_var: str | None = None) -> None:
        self.port = port
        self.host = host
        self.service = service
        self.env_var = env_var
        message = f"port {port} on {host} is already in use ({service})"
        if env_var:
            message += f"; set {env_var} to another port"
        super().__init__(message)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port the OS considers free right now.

    Asking the kernel (bind to port 0) avoids guessing; the small race until the server binds
    it is acceptable for dev and tests, where nothing else hunts for ports concurrently.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    """Tell whether binding `host:port` would fail.

    We probe with a bind rather than a connect: a connect misses sockets that are bound but not
    (yet) listening. SO_REUSEADDR mirrors what nats-server and postgres do, so connections
    left in TIME_WAIT by a server we just stopped do not count as "in use" and a restart on the
    same port is allowed.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
        return False


def log_tail(path: Path, lines: int = 30) -> str:
    """Last lines of a server log, for start errors: the cause is nearly always at the end."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
