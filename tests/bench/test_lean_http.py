"""The load generator's HTTP client against a real socket server: responses split across
reads, keep-alive, a server that closes, and what it refuses to read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import pytest

from bench.lean_http import LeanClient, ResponseError, parse_head

Answer = Callable[[bytes], list[bytes] | None]
"""A request's bytes → the pieces written back, each its own write (None: close at once,
answering nothing)."""


def ok(body: bytes = b'{"ok":true}', *extra: str) -> Answer:
    def answer(_: bytes) -> list[bytes]:
        head = ["HTTP/1.1 200 OK", f"content-length: {len(body)}", *extra]
        whole = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        return [whole[:7], whole[7:30], whole[30:]]  # the client must gather the pieces

    return answer


@asynccontextmanager
async def server(
    answer: Answer, *, close_after: bool = False, idle_close_s: float | None = None
) -> AsyncIterator[tuple[str, list[bytes], list[int]]]:
    """Serves ``answer`` on an ephemeral port (closing each connection after one answer with
    ``close_after``, or once idle for ``idle_close_s``, saying nothing, as uvicorn does); the
    requests it read, and a count of its connections."""
    requests: list[bytes] = []
    connections = [0]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        try:
            while request := await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), idle_close_s):
                requests.append(request)
                pieces = answer(request)
                if pieces is None:
                    break
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.01)
                if close_after:
                    break
        except (asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}", requests, connections


async def test_requests_reuse_one_connection_and_read_split_responses() -> None:
    async with server(ok()) as (url, requests, connections):
        client = LeanClient(url, {"Authorization": "Bearer k"}, connections=4)
        for n in range(3):
            assert await client.post(f"/v1/assets/{n}/approve") == (200, b'{"ok":true}')
        await client.aclose()
    assert connections == [1]
    assert requests[2].startswith(b"POST /v1/assets/2/approve HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer k\r\n" in requests[0]
    assert b"\r\nContent-Length: 0\r\n" in requests[0]


async def test_concurrent_requests_stay_within_the_connections() -> None:
    async with server(ok()) as (url, requests, connections):
        client = LeanClient(url, {}, connections=2)
        results = await asyncio.gather(*(client.post(f"/{n}") for n in range(10)))
        await client.aclose()
    assert [status for status, _ in results] == [200] * 10
    assert connections == [2] and len(requests) == 10


async def test_a_server_that_closes_gets_a_new_connection() -> None:
    async with server(ok(b"", "connection: close"), close_after=True) as (url, _, connections):
        client = LeanClient(url, {}, connections=1)
        assert (await client.post("/a"))[0] == 200
        assert (await client.post("/b"))[0] == 200
        await client.aclose()
    assert connections == [2]


async def test_a_connection_closed_mid_response_raises() -> None:
    def cut(_: bytes) -> list[bytes]:
        return [b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort"]

    async with server(cut, close_after=True) as (url, _, _):
        client = LeanClient(url, {}, connections=1, timeout_s=5)
        with pytest.raises(ResponseError, match="closed mid-response"):
            await client.post("/a")
        await client.aclose()


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """uvicorn closes a connection idle for 5 s without a word: a request written to it
    would be lost, so the next request goes out on a new connection."""
    async with server(ok(), idle_close_s=0.2) as (url, requests, connections):
        client = LeanClient(url, {}, connections=1, timeout_s=5)
        assert (await client.post("/a"))[0] == 200
        await asyncio.sleep(0.5)
        assert (await client.post("/b"))[0] == 200
        await client.aclose()
    assert connections == [2] and len(requests) == 2


async def test_a_kept_connection_closed_unanswered_is_tried_once_more_anew() -> None:
    """The server closes a kept-alive connection just as a request goes out (its idle timer
    fired): nothing of the response came, so the request goes again on a new connection."""
    answers = iter([ok()(b""), None, ok()(b"")])

    def hang_up_once(_: bytes) -> list[bytes] | None:
        return next(answers)

    async with server(hang_up_once) as (url, requests, connections):
        client = LeanClient(url, {}, connections=1, timeout_s=5)
        assert (await client.post("/a"))[0] == 200
        assert await client.post("/b") == (200, b'{"ok":true}')
        await client.aclose()
    assert connections == [2]
    assert [r.split(b" ")[1] for r in requests] == [b"/a", b"/b", b"/b"]


async def test_a_request_that_times_out_leaves_its_connection_unused() -> None:
    """A late answer must not be read as the next request's."""
    answers: Iterator[list[bytes] | None] = iter([[], ok()(b"")])

    def late_then_ok(_: bytes) -> list[bytes] | None:
        return next(answers)

    async with server(late_then_ok) as (url, _, connections):
        client = LeanClient(url, {}, connections=1, timeout_s=0.3)
        with pytest.raises(TimeoutError):
            await client.post("/slow")
        assert await client.post("/next") == (200, b'{"ok":true}')
        await client.aclose()
    assert connections == [2]


def test_only_a_plain_http_base_url_is_taken() -> None:
    for url in ("https://127.0.0.1:8080", "http://127.0.0.1:8080/api", "http://"):
        with pytest.raises(ValueError, match="base URL"):
            LeanClient(url, {}, connections=1)


@pytest.mark.parametrize(
    ("head", "refused"),
    [
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked", "transfer-encoding chunked"),
        (b"SSH-2.0-OpenSSH", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 abc OK", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\nServer: x", "without content-length"),
        (b"HTTP/1.0 200 OK", "without content-length"),
        (b"HTTP/1.1 100 Continue", "interim response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1", "content-length '-1'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2", "conflicting"),
    ],
)
def test_what_it_does_not_read_is_refused(head: bytes, refused: str) -> None:
    with pytest.raises(ResponseError, match=refused):
        parse_head(head)


def test_a_head_says_status_length_and_keep_alive() -> None:
    head = parse_head(b"HTTP/1.1 409 Conflict\r\nContent-Length: 12\r\nServer: uvicorn")
    assert (head.status, head.length, head.close) == (409, 12, False)
    assert parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: 0").close
    assert parse_head(b"HTTP/1.1 204 No Content\r\nConnection: close").close
