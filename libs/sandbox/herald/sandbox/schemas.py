"""Wire formats of the sandbox HTTP API: request bodies and JSON renderings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from herald.sandbox.store import Post, ScriptedResponse


class PostIn(BaseModel):
    """Body of ``POST /posts``: the account to publish to, the text and optional media URLs."""

    account: str = Field(min_length=1)
    body: str
    media: list[str] = Field(default_factory=list)


class ScriptedResponseIn(BaseModel):
    """One entry of ``POST /faults``; see ``ScriptedResponse`` for what the fields mean."""

    status: int = Field(ge=200, le=599)
    retry_after: float | None = Field(default=None, ge=0)
    delay_ms: int = Field(default=0, ge=0)
    hang: bool = False
    drop: bool = False

    def to_scripted(self) -> ScriptedResponse:
        """Return the store-level value for this entry."""
        return ScriptedResponse(
            status=self.status,
            retry_after=self.retry_after,
            delay_ms=self.delay_ms,
            hang=self.hang,
            drop=self.drop,
        )


class FaultsIn(BaseModel):
    """Body of ``POST /faults``: responses appended, in order, to the account's script."""

    account: str = Field(min_length=1)
    responses: list[ScriptedResponseIn]


def post_json(post: Post) -> dict[str, Any]:
    """Return the JSON object for ``post``; ``received_at`` is ISO 8601 with a UTC offset."""
    return {
        "id": post.id,
        "account": post.account,
        "idempotency_key": post.idempotency_key,
        "body": post.body,
        "media": list(post.media),
        "received_at": post.received_at.isoformat(),
        "deliveries": post.deliveries,
    }


def retry_after_header(seconds: float) -> str:
    """Render ``Retry-After``: whole seconds as an integer (``2.0`` -> ``"2"``), else as given."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)
