"""What a post says, checked against a platform's limits before anything is sent. Pure."""

from __future__ import annotations

from herald.publisher.adapters.platforms.base import Content
from herald.publisher.domain.errors import PermanentPublishError


def post_text(
    content: Content, *, platform: str, max_chars: int, max_media: int | None = None
) -> str:
    """The text a platform gets (title, a blank line, the body); a permanent error naming the
    limit when the text or the number of media files is over it."""
    text = f"{content.title}\n\n{content.body}".strip()
    if len(text) > max_chars:
        raise PermanentPublishError(
            "text_too_long", f"the post is {len(text)} characters; {platform} takes {max_chars}"
        )
    if max_media is not None and len(content.media_urls) > max_media:
        raise PermanentPublishError(
            "too_many_media",
            f"{len(content.media_urls)} media files; a {platform} post takes {max_media}",
        )
    return text
