"""The CLI's client of Herald's HTTP API: the tenant comes from the API key, as for any client.

``HERALD_API_URL`` and ``HERALD_API_KEY`` (both in ``.herald/demo.env`` after ``make run``) say
where and as whom; every failure becomes one line naming the problem.
"""

from __future__ import annotations

import os
from typing import Any

import httpx


class ApiError(Exception):
    """One line for the operator: what the API (or the network) said."""


class ApiClient:
    def __init__(self, url: str | None, key: str | None, timeout_s: float = 30.0):
        url = url or os.environ.get("HERALD_API_URL") or ""
        key = key or os.environ.get("HERALD_API_KEY") or ""
        if not url:
            raise ApiError(
                "set HERALD_API_URL (or --api-url) to the Herald API, e.g. http://127.0.0.1:8000"
            )
        if not key:
            raise ApiError("set HERALD_API_KEY (or --api-key) to an API key of the tenant")
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for 204), or ``ApiError`` with the problem's code."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._client.request(method, path, json=body, params=query)
        except httpx.HTTPError as error:
            raise ApiError(f"cannot reach the API at {self.url}: {error}") from None
        if response.status_code == 204:
            return None
        try:
            data = response.json()
        except ValueError:
            raise ApiError(f"{method} {path}: HTTP {response.status_code}, not JSON") from None
        if response.is_error:
            raise ApiError(_problem_line(response.status_code, data))
        return data

    def close(self) -> None:
        self._client.close()


def _problem_line(status: int, problem: Any) -> str:
    if not isinstance(problem, dict):
        return f"HTTP {status}"
    line = f"{problem.get('code', status)}: {problem.get('title', '')}".rstrip(": ")
    if problem.get("detail"):
        line += f" ({problem['detail']})"
    for error in problem.get("errors", [])[:3]:
        where = ".".join(str(part) for part in error.get("loc", []) if part != "body")
        line += f"; {where}: {error.get('msg', '')}"
    return line
