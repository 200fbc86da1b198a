"""``herald silences create --for``: durations read the way an operator writes them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from herald.cli.alerting import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        (" 1.5d ", timedelta(hours=36)),
        ("366d", timedelta(days=366)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "soon", "2", "h", "0m", "-1h", "2 h", "1w", "367d", "9999999d"]
)
def test_what_is_not_a_duration_names_the_input(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|longer"):
        parse_duration(text)
