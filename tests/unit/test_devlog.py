"""Tests of herald.cli.devlog.render: JSON log lines made readable for ``herald dev``."""

from __future__ import annotations

import json

import pytest

from herald.cli.devlog import render


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"level": "info", "event": "job.claimed"}', "INFO    job.claimed"),
        (
            '{"level": "warning", "event": "publish.retry", "job_id": "j1", "attempt": 2}',
            "WARNING publish.retry job_id=j1 attempt=2",
        ),
        (
            '{"level": "error", "event": "boom", "timestamp": "2025-01-01T00:00:00Z",'
            ' "service": "api", "logger": "herald.api", "color_message": "x", "code": 500}',
            "ERROR   boom code=500",
        ),
        ('{"level": "debug", "event": "x", "ok": true, "n": null}', "DEBUG   x ok=True n=None"),
        ('{"event": "no level", "k": "v"}', "        no level k=v"),
        ('{"level": "info"}', "INFO"),
        ("{}", ""),
    ],
)
def test_json_lines_become_level_event_and_key_values(line: str, expected: str) -> None:
    assert render(line) == expected


def test_every_non_quiet_key_is_shown_in_order() -> None:
    record = {"level": "info", "event": "e", "b": 1, "a": "two", "service": "api", "c": [1, 2]}
    assert render(json.dumps(record)) == "INFO    e b=1 a=two c=[1, 2]"


@pytest.mark.parametrize(
    "line",
    [
        "plain text from a library",
        "INFO:     Uvicorn running on http://127.0.0.1:8000",
        "",
        "{not json",
        "Traceback (most recent call last):",
    ],
)
def test_non_json_lines_are_unchanged(line: str) -> None:
    assert render(line) == line


@pytest.mark.parametrize("line", ["[1, 2, 3]", '"a string"', "42", "null", "true", "3.5"])
def test_json_that_is_not_an_object_is_unchanged(line: str) -> None:
    assert render(line) == line
