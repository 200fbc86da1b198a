"""Media for a post: fetched from its URL and passed on to the platform as a stream.

A file is never held whole in memory: the publisher reads it in chunks from the source and
writes each chunk into the upload (a multipart body built on the fly). What a platform cannot
take (a type it does not accept, a size over its limit) fails as a permanent error before the
upload starts, from the source's headers, or as soon as the bytes counted pass the limit when
the source did not say its size.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import httpx

from herald.common.url_guard import UnsafeUrl, resolve_and_check
from herald.publisher.adapters.platforms.http_errors import classify_transport, retry_after_seconds
from herald.publisher.domain.errors import PermanentPublishError, TransientPublishError

CHUNK = 64 * 1024


@dataclass(frozen=True)
class MediaRules:
    """The types a platform accepts, each with its largest size in bytes."""

    limits: Mapping[str, int]

    def limit_for(self, content_type: str) -> int | None:
        """The size limit of ``content_type`` (parameters ignored); None when not accepted."""
        return self.limits.get(content_type.split(";", 1)[0].strip().lower())


def refusal(
    rules: MediaRules, content_type: str | None, length: int | None, url: str
) -> PermanentPublishError | None:
    """Why the platform would refuse this file, from what the source said of it (pure)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower() or "unknown"
    limit = rules.limit_for(kind)
    if limit is None:
        accepted = ", ".join(sorted(rules.limits))
        return PermanentPublishError(
            "media_unsupported_type", f"{_name(url)} is {kind}; the platform takes {accepted}"
        )
    if length is not None and length > limit:
        return too_large(url, limit, length)
    return None


def too_large(url: str, limit: int, length: int | None = None) -> PermanentPublishError:
    size = f"{length:,} bytes" if length is not None else "more"
    return PermanentPublishError(
        "media_too_large", f"{_name(url)} is {size}; the platform takes at most {limit:,}"
    )


@dataclass
class Media:
    """An open source file: its type, its declared length, and its bytes as they come."""

    url: str
    content_type: str
    length: int | None
    limit: int
    _response: httpx.Response

    @property
    def filename(self) -> str:
        return _name(self.url)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes, in chunks; stops the upload with ``media_too_large`` past the limit."""
        sent = 0
        try:
            async for chunk in self._response.aiter_bytes(CHUNK):
                sent += len(chunk)
                if sent > self.limit:
                    raise too_large(self.url, self.limit)
                yield chunk
        except httpx.HTTPError as error:
            raise classify_transport(error) from error


@asynccontextmanager
async def opened(
    client: httpx.AsyncClient, url: str, rules: MediaRules, *, allow_private: bool
) -> AsyncIterator[Media]:
    """Open ``url`` for streaming and check it against ``rules`` before anything is sent on.
    A tenant gives the URL: it must not lead the publisher into its own network."""
    await guarded(url, allow_private, "media_url_forbidden")
    try:
        async with client.stream("GET", url) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientPublishError(
                    "media_unavailable",
                    f"{_name(url)}: the media host answered {response.status_code}",
                    retry_after_s=retry_after_seconds(
                        response.headers.get("retry-after"), datetime.now(UTC)
                    ),
                )
            if not response.is_success:
                raise PermanentPublishError(
                    "media_unavailable",
                    f"{_name(url)}: the media host answered {response.status_code}",
                )
            content_type = response.headers.get("content-type", "")
            declared = response.headers.get("content-length")
            length = int(declared) if declared and declared.isdigit() else None
            if (problem := refusal(rules, content_type, length, url)) is not None:
                raise problem
            limit = rules.limit_for(content_type) or 0
            yield Media(url, content_type.split(";", 1)[0].strip(), length, limit, response)
    except httpx.HTTPError as error:
        raise classify_transport(error) from error


async def guarded(url: str, allow_private: bool, code: str) -> None:
    """Refuse (permanently) a URL that is malformed or reaches a forbidden address; a name
    that does not resolve now is a transient failure."""
    try:
        await resolve_and_check(url, allow_private)
    except UnsafeUrl as refused:
        raise PermanentPublishError(code, f"{_name(url)}: {refused.reason}") from None
    except (OSError, TimeoutError, UnicodeError) as error:
        raise TransientPublishError("dns_error", f"{type(error).__name__}: {error}") from None


def multipart(
    media: Media, field: str, fields: Mapping[str, str] | None = None
) -> tuple[str, AsyncIterator[bytes]]:
    """A multipart/form-data body streaming ``media`` as ``field``: (its content type, body)."""
    return multipart_body(field, media.filename, media.content_type, media.chunks(), fields)


def multipart_body(
    field: str,
    filename: str,
    content_type: str,
    chunks: AsyncIterator[bytes],
    fields: Mapping[str, str] | None = None,
) -> tuple[str, AsyncIterator[bytes]]:
    """A multipart/form-data body of ``fields`` and one file made of ``chunks``, written as
    they come: (its content type, the body). Once sent, the body holds none of the bytes (an
    httpx request outlives its call until the garbage collector finds it)."""
    boundary = secrets.token_hex(16)

    async def body() -> AsyncIterator[bytes]:
        for name, value in (fields or {}).items():
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            ).encode()
        yield (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        async for chunk in chunks:
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    return f"multipart/form-data; boundary={boundary}", body()


def _name(url: str) -> str:
    """The file's name as the URL gives it (for messages and the upload's filename)."""
    path = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in path if ch.isprintable() and ch not in '"\\')
    return cleaned[:100] or "media"
