"""The error half of the OpenAPI document: every operation lists the problems it can answer.

FastAPI documents a route's success and a JSON 422; Herald answers every error as
problem+json (``problems.py``), so each operation gets the statuses it can really return —
400 and 413 where it takes a body, 401/403 where it needs a key, 404 where it names an
entity, 409 where it changes one, 429 (rate limit) and 503 (database unavailable) everywhere.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from herald.api.problems import MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; ``code`` is stable, the rest is for people",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "examples": ["asset_not_found"]},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

WHY = {
    "400": "The body is not valid JSON (malformed_json), or a header is invalid",
    "401": "No API key, or one that is unknown, revoked or expired (unauthorized)",
    "403": "The key's role does not allow this (forbidden)",
    "404": "No such entity for this tenant (e.g. asset_not_found)",
    "409": "The entity's state does not allow this (e.g. asset_not_approvable)",
    "413": "The body is larger than the limit (payload_too_large)",
    "422": "The request does not validate (validation_error), or names what cannot work",
    "429": "Too many requests for this key (rate_limited); see Retry-After",
    "503": "A dependency is unavailable (e.g. database_unavailable); retry shortly",
}
CHANGES = {"post", "put", "patch", "delete"}


def _problem(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {MEDIA_TYPE: {"schema": schema}}}


def statuses_of(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer (pure)."""
    found = ["422", "429", "503"]
    if "requestBody" in operation:
        found += ["400", "413"]
    if operation.get("security"):
        found += ["401", "403"]
    if "{" in path:
        found.append("404")
    if method in CHANGES:
        found.append("409")
    return sorted(set(found))


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the Problem schema and each operation's problem responses to ``schema``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in statuses_of(method, path, operation):
                declared = responses.get(status)
                if declared is None or status == "422":  # FastAPI's 422 is not what we send
                    responses[status] = _problem(WHY[status])
                else:  # the route's own body for it (e.g. an unhealthy report) stays beside
                    declared.setdefault("content", {}).update(_problem(WHY[status])["content"])
    return schema


def install(app: FastAPI) -> None:
    """Serve the OpenAPI document with the problems documented (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


@cache
def _template(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")


def methods_at(schema: dict[str, Any], path: str) -> list[str]:
    """Every method the document lists for a concrete ``path`` (a 405's ``Allow`` header)."""
    matching = [t for t in schema.get("paths", {}) if _template(t).match(path)]
    if not matching:
        return []
    fewest = min(t.count("{") for t in matching)  # a literal segment wins, as in routing
    paths = schema["paths"]
    return sorted({m.upper() for t in matching if t.count("{") == fewest for m in paths[t]})
