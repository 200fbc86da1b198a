"""Bearer-token check of the sandbox platform.

Any non-empty bearer token is accepted except the literal ``"expired"``, which lets
tests exercise the publisher's token-refresh path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request, Response
from fastapi.responses import JSONResponse

EXPIRED_TOKEN = "expired"  # noqa: S105 - a sentinel value, not a secret
"""The one token value the sandbox rejects as ``invalid_token``."""


class AuthError(Exception):
    """Raised by ``require_token``; ``error`` is ``"missing_token"`` or ``"invalid_token"``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


async def require_token(authorization: Annotated[str | None, Header()] = None) -> str:
    """Return the bearer token of the request, or raise ``AuthError``.

    A missing header, a scheme other than ``Bearer`` or an empty token is
    ``missing_token``; the token ``"expired"`` is ``invalid_token``.
    """
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("missing_token")
    if token == EXPIRED_TOKEN:
        raise AuthError("invalid_token")
    return token


async def auth_error_response(request: Request, exc: Exception) -> Response:
    """Render an ``AuthError`` as 401 ``{"error": ...}``; invalid tokens get WWW-Authenticate."""
    error = exc.error if isinstance(exc, AuthError) else "missing_token"
    headers = {"WWW-Authenticate": f'Bearer error="{error}"'} if error == "invalid_token" else {}
    return JSONResponse({"error": error}, status_code=401, headers=headers)
