"""RFC 9457 problem+json responses with a stable ``code`` for every error the API returns."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from herald.api.service_layer.errors import NotFound, Refused, ServiceError, Unavailable

log = structlog.get_logger(__name__)

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, code: str, title: str, detail: str | None = None, **extra: Any):
        super().__init__(detail or title)
        self.status, self.code, self.title, self.detail, self.extra = (
            status,
            code,
            title,
            detail,
            extra,
        )


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://herald.dev/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def install(app: FastAPI) -> None:
    """Route every error through problem+json; nothing leaks a stack trace."""

    @app.exception_handler(Problem)
    async def _problem(_: Request, error: Problem) -> JSONResponse:
        return problem_response(error.status, error.code, error.title, error.detail, **error.extra)

    @app.exception_handler(ServiceError)
    async def _refused(_: Request, error: ServiceError) -> JSONResponse:
        status = 404 if isinstance(error, NotFound) else 409 if isinstance(error, Refused) else 422
        status = 503 if isinstance(error, Unavailable) else status
        return problem_response(status, error.code, error.title, error.detail, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        malformed = any(e["type"] == "json_invalid" for e in errors)
        code = "malformed_json" if malformed else "validation_error"
        title = "Request body is not valid JSON" if malformed else "Request is invalid"
        return problem_response(422 if not malformed else 400, code, title, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(error.status_code, "http_error")
        headers = dict(error.headers) if error.headers else {}
        if error.status_code == 405:  # Allow: every method of the path, not one route's
            from herald.api.openapi_contract import methods_at

            allowed = methods_at(request.app.openapi(), request.url.path)
            headers["Allow"] = ", ".join(allowed) or headers.get("Allow", "")
        return problem_response(error.status_code, code, str(error.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, error: Exception) -> JSONResponse:
        if database_unavailable(error):  # PostgreSQL restarting: the client should retry
            log.warning("http.database_unavailable", path=request.url.path, error=repr(error))
            response = problem_response(
                503, "database_unavailable", "The database is unavailable; retry shortly"
            )
            if request.method in ("GET", "HEAD"):  # a POST may have committed: no invitation
                response.headers["Retry-After"] = "1"
            return response
        log.exception("http.unhandled", path=request.url.path, error=type(error).__name__)
        return problem_response(500, "internal_error", "Internal error")


UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
"""Connection exceptions, admin/crash shutdown, starting up, too many connections."""


def database_unavailable(error: BaseException) -> bool:
    """A lost, refused or exhausted database connection, as opposed to a bug (pure)."""
    if isinstance(error, PoolTimeout):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        sqlstate = str(getattr(error.orig, "sqlstate", "") or "")
        if sqlstate.startswith(UNAVAILABLE_SQLSTATES):
            return True
        error = error.orig if isinstance(error.orig, BaseException) else error
    return isinstance(error, ConnectionError)  # refused or reset before PostgreSQL answered
