"""Tests of herald.api.domain.event_stream: Last-Event-ID, where a stream resumes, SSE frames."""

from __future__ import annotations

import json

import pytest

from herald.api.domain.event_stream import (
    MAX_SEQUENCE,
    InvalidEventId,
    ResumePoint,
    comment,
    frame,
    parse_last_event_id,
    resume_point,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("0", 0),
        ("42", 42),
        (" 42 ", 42),
        (str(MAX_SEQUENCE), MAX_SEQUENCE),
    ],
)
def test_a_valid_last_event_id_is_a_stream_sequence(
    value: str | None, expected: int | None
) -> None:
    assert parse_last_event_id(value) == expected


@pytest.mark.parametrize(
    "value", ["abc", "-1", "+1", "1.5", "1e3", "0x10", str(MAX_SEQUENCE + 1), "9" * 21, "١٢"]
)
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(InvalidEventId):
        parse_last_event_id(value)


@pytest.mark.parametrize(
    ("after", "first_seq", "last_seq", "expected"),
    [
        (None, 0, 0, ResumePoint(1)),  # a new, empty stream: from its first message
        (None, 5, 20, ResumePoint(21)),  # a fresh client: what comes next, not history
        (0, 0, 0, ResumePoint(1)),
        (10, 5, 20, ResumePoint(11)),  # resume right after what the client saw
        (20, 5, 20, ResumePoint(21)),  # it saw everything so far
        (4, 5, 20, ResumePoint(5)),  # the next one it needs is the oldest kept: nothing lost
        (3, 5, 20, ResumePoint(5, reset=True)),  # seq 4 aged out: it may have missed some
        (0, 5, 20, ResumePoint(5, reset=True)),
        (21, 5, 20, ResumePoint(5, reset=True)),  # an id we never sent: the stream is new
        (20, 21, 20, ResumePoint(21)),  # all aged out, but nothing after 20 ever existed
        (10, 21, 20, ResumePoint(21, reset=True)),
    ],
)
def test_resume_point(
    after: int | None, first_seq: int, last_seq: int, expected: ResumePoint
) -> None:
    assert resume_point(after, first_seq, last_seq) == expected


def test_the_ready_id_stands_for_everything_before_the_start() -> None:
    assert ResumePoint(21).last_event_id == 20
    assert ResumePoint(1).last_event_id == 0


def test_a_frame_has_id_event_and_one_line_of_compact_json() -> None:
    raw = frame(event="job.changed", data={"status": "queued", "n": [1, 2]}, event_id=7)
    assert raw == b'id: 7\nevent: job.changed\ndata: {"status":"queued","n":[1,2]}\n\n'


def test_newlines_in_data_stay_inside_the_json() -> None:
    raw = frame(data={"message": "two\nlines"})
    lines = raw.decode().split("\n")
    assert lines[0].startswith("data: ") and lines[1:] == ["", ""]
    assert json.loads(lines[0].removeprefix("data: ")) == {"message": "two\nlines"}


def test_a_comment_is_ignored_by_clients() -> None:
    assert comment("keep-alive") == b": keep-alive\n\n"
