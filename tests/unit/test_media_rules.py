"""What a platform would refuse of a media file, decided from the source's headers (pure)."""

from __future__ import annotations

import pytest

from herald.common.platforms import MASTODON, SANDBOX, config_problems
from herald.publisher.adapters.platforms.media import MediaRules, refusal

RULES = MediaRules({"image/png": 1000, "video/mp4": 5000})


@pytest.mark.parametrize(
    ("content_type", "length", "code"),
    [
        ("image/png", 1000, None),
        ("IMAGE/PNG; charset=binary", 999, None),
        ("image/png", None, None),  # unknown size: counted while streaming
        ("image/png", 1001, "media_too_large"),
        ("video/mp4", 5000, None),
        ("image/tiff", 10, "media_unsupported_type"),
        (None, 10, "media_unsupported_type"),
        ("", None, "media_unsupported_type"),
    ],
)
def test_refusal(content_type: str | None, length: int | None, code: str | None) -> None:
    problem = refusal(RULES, content_type, length, "https://cdn.example/a/poster%20big.png")
    assert (problem.code if problem else None) == code
    if problem is not None:
        assert "poster big.png" in problem.message


@pytest.mark.parametrize(
    ("url", "allow_private", "problem"),
    [
        ("https://mastodon.social", False, None),
        ("http://127.0.0.1:3000", True, None),
        ("http://127.0.0.1:3000", False, "config.instance_url: "),
        ("http://169.254.169.254/", True, "config.instance_url: "),  # metadata: never
        ("ftp://social.example", False, "the scheme must be http or https"),
        ("https://user:pw@social.example", False, "user name or password"),
    ],
)
def test_a_channel_url_is_guarded(url: str, allow_private: bool, problem: str | None) -> None:
    found = config_problems(MASTODON, {"instance_url": url}, allow_private=allow_private)
    assert (problem is None) == (found == [])
    if problem is not None:
        assert problem in found[0]


def test_a_platform_without_urls_checks_none() -> None:
    assert config_problems(SANDBOX, {"account": "http://127.0.0.1"}) == []
