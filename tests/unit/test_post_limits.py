"""The text a platform gets and its limits; the platform's reason added to an error (pure)."""

from __future__ import annotations

import pytest

from herald.publisher.adapters.platforms.base import Content
from herald.publisher.adapters.platforms.http_errors import explained
from herald.publisher.adapters.platforms.post_limits import post_text
from herald.publisher.domain.errors import PermanentPublishError, TransientPublishError


def test_title_and_body_with_a_blank_line_and_no_edges() -> None:
    assert post_text(Content("Title", "Body", ()), platform="P", max_chars=20) == "Title\n\nBody"
    assert post_text(Content("", "Body", ()), platform="P", max_chars=20) == "Body"


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        (Content("t", "x" * 20, ()), "text_too_long", "the post is 23 characters; P takes 22"),
        (Content("t", "b", ("a", "b", "c")), "too_many_media", "3 media files; a P post takes 2"),
    ],
)
def test_over_a_limit_is_a_permanent_error_naming_it(
    content: Content, code: str, words: str
) -> None:
    with pytest.raises(PermanentPublishError) as refused:
        post_text(content, platform="P", max_chars=22, max_media=2)
    assert (refused.value.code, refused.value.message) == (code, words)


def test_the_platforms_reason_is_added_when_there_is_one() -> None:
    error = explained(TransientPublishError("http_503", "the platform answered 503"), " busy ")
    assert (error.message, str(error)) == ("the platform answered 503: busy",) * 2
    plain = explained(PermanentPublishError("http_400", "refused"), None)
    assert plain.message == "refused"
