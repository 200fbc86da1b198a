"""A lean HTTP/1.1 client for the load generator: keep-alive connections on asyncio's
protocols, requests without a body, responses framed by Content-Length.

The generator runs on the cores it measures. Through httpx (with httpcore and anyio), one
approval cost the bench process about 1.5 ms of CPU, near a tenth of the whole pipeline's cost
per job, taken from the system under test; here it is a write and a parse of the status line
and headers. It speaks only what the API answers (no chunked bodies, no redirects) and fails
loudly on anything else.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

HEAD_END = b"\r\n\r\n"
IDLE_MAX_S = 4.0
"""A connection idle longer is closed, not reused: uvicorn closes one idle for 5 s
(``timeout_keep_alive``), and a request written to a closed connection is lost."""
BODILESS = (204, 304)


class ResponseError(Exception):
    """The server answered something this client does not read (or closed mid-response)."""


class Unanswered(ResponseError):
    """The connection closed before any byte of the response: a kept-alive connection the
    server closed as the request went out. Tried once more on a new connection."""


@dataclass(frozen=True)
class Head:
    status: int
    length: int
    close: bool


def parse_head(head: bytes) -> Head:
    """The status, body length and keep-alive of a final response's head, without its blank
    line (pure). A body it cannot frame by Content-Length is refused."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ResponseError(f"not an HTTP/1.x status line: {lines[0]!r}")
    status = int(parts[1])
    if status < 200:
        raise ResponseError(f"interim response {status} is not read here")
    lengths, close = set(), parts[0] == "HTTP/1.0"
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            if not value.isdigit():
                raise ResponseError(f"content-length {value!r}")
            lengths.add(int(value))
        elif name == "transfer-encoding":
            raise ResponseError(f"transfer-encoding {value} is not read here")
        elif name == "connection":
            close = value == "close"
    if len(lengths) > 1:
        raise ResponseError(f"conflicting content-lengths {sorted(lengths)}")
    if not lengths and status not in BODILESS:
        raise ResponseError(f"a {status} without content-length is not read here")
    return Head(status, lengths.pop() if lengths else 0, close)


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[Head, bytes]] | None = None
        self.closed = False
        self.idle_since = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have asyncio.Transport's methods but are not its subclass
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        end = self.buffer.find(HEAD_END)
        if end < 0:
            return
        try:
            head = parse_head(bytes(self.buffer[:end]))
        except (ResponseError, ValueError) as error:
            waiter.set_exception(ResponseError(str(error)))
            return
        last = end + len(HEAD_END) + head.length
        if len(self.buffer) < last:
            return
        body = bytes(self.buffer[end + len(HEAD_END) : last])
        del self.buffer[:last]
        waiter.set_result((head, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            unanswered = not self.buffer  # closed before any byte of the response
            error = (Unanswered if unanswered else ResponseError)(
                f"connection closed mid-response: {exc!r}"
            )
            self.waiter.set_exception(error)

    async def exchange(self, request: bytes) -> tuple[Head, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        head, body = await self.waiter
        self.idle_since = time.monotonic()
        return head, body

    def reusable(self, now: float) -> bool:
        return not self.closed and now - self.idle_since < IDLE_MAX_S

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class LeanClient:
    """POSTs without a body to one server, over at most ``connections`` kept-alive
    connections; callers past that wait their turn in a FIFO that costs nothing per waiter."""

    def __init__(
        self, base_url: str, headers: dict[str, str], connections: int, timeout_s: float = 60.0
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or url.path not in ("", "/") or not url.hostname:
            raise ValueError(f"an http://host[:port] base URL, not {base_url!r}")
        self._host, self._port = url.hostname, url.port or 80
        lines = [f"Host: {url.netloc}", "Content-Length: 0"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._header_block = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[_Connection] = []
        self._timeout_s = timeout_s

    async def post(self, path: str) -> tuple[int, bytes]:
        """The status and body of ``POST path``."""
        request = f"POST {path} HTTP/1.1\r\n".encode("latin-1") + self._header_block
        async with self._slots:
            connection = self._reusable()
            if connection is not None:
                try:
                    return await self._exchange(connection, request)
                except Unanswered:  # closed by the server as it sat idle: once more, anew
                    pass
            return await self._exchange(await self._connect(), request)

    def _reusable(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable(now):
                return connection
            connection.close()
        return None

    async def _exchange(self, connection: _Connection, request: bytes) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(self._timeout_s):
                head, body = await connection.exchange(request)
        except BaseException:  # never reused: a late response would answer the next request
            connection.close()
            raise
        if head.close or connection.closed:
            connection.close()
        else:
            self._idle.append(connection)
        return head.status, body

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, self._host, self._port)
        return connection

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()
