"""In-memory state of the sandbox platform: recorded posts and scripted faults.

Everything here is plain synchronous Python with no I/O. The HTTP layer calls these
methods from a single asyncio event loop and never awaits in the middle of one, so each
call is atomic with respect to concurrent requests and no lock is needed.
"""

from __future__ import annotations

import builtins
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import uuid_utils


def new_post_id() -> str:
    """Return a fresh post id: ``"post_"`` followed by the hex of a time-ordered UUIDv7."""
    return f"post_{uuid_utils.uuid7().hex}"


@dataclass(frozen=True, slots=True)
class Post:
    """One post as the platform stored it.

    Attributes:
        id: platform-assigned id, ``"post_<uuid7 hex>"``.
        account: the account (tenant handle) the post was published to.
        idempotency_key: the ``Idempotency-Key`` sent with the first delivery, or None.
        body: the post text, exactly as received.
        media: media URLs attached to the post, in request order.
        received_at: UTC time the first delivery was recorded.
        deliveries: how many requests carried this post; 1 for a new post, +1 for every
            replay of the same idempotency key within the same account.
    """

    id: str
    account: str
    idempotency_key: str | None
    body: str
    media: tuple[str, ...]
    received_at: datetime
    deliveries: int = 1


class PostStore:
    """All recorded posts, indexed by id, by (account, idempotency key) and by account."""

    def __init__(self) -> None:
        self._posts: dict[str, Post] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._by_account: dict[str, builtins.list[str]] = {}

    def __len__(self) -> int:
        return len(self._posts)

    def record(
        self,
        account: str,
        idempotency_key: str | None,
        body: str,
        media: Sequence[str],
        now: datetime,
    ) -> tuple[Post, bool]:
        """Record one delivery and return ``(post, created)``.

        If ``idempotency_key`` was already seen for ``account``, nothing is created: the
        first post is returned with ``deliveries`` incremented and ``created`` False (its
        body/media are kept, whatever this delivery carried). Without a key every call
        creates a new post. ``now`` becomes ``received_at`` of a created post.
        """
        if idempotency_key is not None:
            existing = self.find_by_key(account, idempotency_key)
            if existing is not None:
                replayed = replace(existing, deliveries=existing.deliveries + 1)
                self._posts[replayed.id] = replayed
                return replayed, False
        post = Post(
            id=new_post_id(),
            account=account,
            idempotency_key=idempotency_key,
            body=body,
            media=tuple(media),
            received_at=now,
        )
        self._posts[post.id] = post
        self._by_account.setdefault(account, []).append(post.id)
        if idempotency_key is not None:
            self._by_key[(account, idempotency_key)] = post.id
        return post, True

    def get(self, post_id: str) -> Post | None:
        """Return the post with id ``post_id``, or None if there is none."""
        return self._posts.get(post_id)

    def find_by_key(self, account: str, idempotency_key: str) -> Post | None:
        """Return the post first delivered to ``account`` with ``idempotency_key``, or None."""
        post_id = self._by_key.get((account, idempotency_key))
        return None if post_id is None else self._posts[post_id]

    def list(self, account: str | None = None) -> builtins.list[Post]:
        """Return the posts of ``account`` (all posts if None), oldest ``received_at`` first.

        Posts received at the same instant keep their recording order.
        """
        if account is None:
            posts: Iterable[Post] = self._posts.values()
        else:
            posts = (self._posts[i] for i in self._by_account.get(account, ()))
        return sorted(posts, key=lambda post: post.received_at)

    def clear(self) -> None:
        """Forget every post."""
        self._posts.clear()
        self._by_key.clear()
        self._by_account.clear()


@dataclass(frozen=True, slots=True)
class ScriptedResponse:
    """One scripted reaction to the next ``POST /posts`` of an account.

    Attributes:
        status: HTTP status to answer with. >= 400 answers ``{"error": "scripted"}``
            without recording the post; < 400 records the post normally (201/200).
        retry_after: seconds for the ``Retry-After`` header of an error, or None for none.
        delay_ms: milliseconds to wait before anything else happens.
        hang: after the delay, wait until the client disconnects (or the server's hang
            limit passes) before applying ``status``.
        drop: accept the post (record it), then never answer: the request is held until the
            client gives up, so the client cannot know the post exists.
    """

    status: int
    retry_after: float | None = None
    delay_ms: int = 0
    hang: bool = False
    drop: bool = False


class FaultScript:
    """Per-account FIFO queues of scripted responses, consumed one per ``POST /posts``."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[ScriptedResponse]] = {}

    def append(self, account: str, responses: Iterable[ScriptedResponse]) -> int:
        """Queue ``responses`` after any already pending for ``account``; return pending count."""
        queue = self._queues.setdefault(account, deque())
        queue.extend(responses)
        return len(queue)

    def pending(self, account: str) -> int:
        """Return how many scripted responses are still queued for ``account``."""
        return len(self._queues.get(account, ()))

    def next_response(self, account: str) -> ScriptedResponse | None:
        """Pop and return the next scripted response of ``account``; None means behave normally."""
        queue = self._queues.get(account)
        if not queue:
            return None
        return queue.popleft()

    def clear(self, account: str | None = None) -> None:
        """Drop the queued responses of ``account``, or of every account if None."""
        if account is None:
            self._queues.clear()
        else:
            self._queues.pop(account, None)
