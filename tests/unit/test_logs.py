"""Tests of herald.common.logs: secret redaction and the JSON log configuration."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from herald.common.logs import REDACTED, configure_logging, redact_secrets, redact_value


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PASSWORD",
        "db_password",
        "passwd",  # "pass" is enough
        "pass",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "api-key",
        "apikey",
        "API_KEY",
        "Authorization",
        "authorization",
        "credentials",
        "credential_keys",
        "cookie",
        "Set-Cookie",
    ],
)
def test_secret_keys_are_redacted(key: str) -> None:
    assert redact_value({key: "hunter2", "user": "ann"}) == {key: REDACTED, "user": "ann"}


def test_secret_values_are_redacted_whatever_their_type() -> None:
    value = {"token": {"nested": "x"}, "password": ["a", "b"], "api_key": 123, "secret": None}
    assert redact_value(value) == {k: REDACTED for k in value}


@pytest.mark.parametrize(
    "key", ["user", "channel_id", "platform", "status", "event", "attempt", "key_id", "url"]
)
def test_non_secret_keys_are_untouched(key: str) -> None:
    assert redact_value({key: "value", "n": 1}) == {key: "value", "n": 1}


def test_redaction_is_recursive_in_dicts_and_lists() -> None:
    value: dict[str, Any] = {
        "channel": {"platform": "sandbox", "credentials": {"token": "t"}},
        "attempts": [{"n": 1, "password": "p"}, {"n": 2, "headers": {"Authorization": "x"}}],
        "tuple": ({"api_key": "k"}, "plain"),
        "count": 3,
        "ok": True,
        "nothing": None,
    }
    assert redact_value(value) == {
        "channel": {"platform": "sandbox", "credentials": REDACTED},
        "attempts": [
            {"n": 1, "password": REDACTED},
            {"n": 2, "headers": {"Authorization": REDACTED}},
        ],
        "tuple": [{"api_key": REDACTED}, "plain"],
        "count": 3,
        "ok": True,
        "nothing": None,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer abc.def", "Bearer [redacted]"),
        ("Authorization: Bearer abc.def-ghi_jkl~+/=", "Authorization: Bearer [redacted]"),
        ("header was bearer XyZ123 then more", "header was bearer [redacted] then more"),
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        (
            "postgresql+asyncpg://herald:s3cr3t@db:5432/herald",
            "postgresql+asyncpg://herald:***@db:5432/herald",
        ),
        ("nats://user:pa55@nats:4222", "nats://user:***@nats:4222"),
        ("connect to postgresql://u:pw@h/db failed", "connect to postgresql://u:***@h/db failed"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),  # no password
        ("http://127.0.0.1:8000/v1/jobs", "http://127.0.0.1:8000/v1/jobs"),  # port, not password
        ("plain message", "plain message"),
        ("", ""),
    ],
)
def test_secrets_inside_strings_are_masked(text: str, expected: str) -> None:
    assert redact_value(text) == expected


def test_strings_nested_under_ordinary_keys_are_masked() -> None:
    value = {"url": "postgresql://u:pw@h/db", "headers": ["Bearer abc.def"]}
    assert redact_value(value) == {
        "url": "postgresql://u:***@h/db",
        "headers": ["Bearer [redacted]"],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://:pw@h/db", "postgresql://:***@h/db"),
        ("redis://:s3cr3t@cache:6379/0", "redis://:***@cache:6379/0"),
    ],
)
def test_a_url_password_without_a_user_name_is_masked(text: str, expected: str) -> None:
    """libpq and redis URLs may carry a password with an empty user name."""
    assert redact_value(text) == expected


@pytest.mark.parametrize("value", [0, 1.5, True, None, b"Bearer abc"])
def test_other_values_pass_through(value: object) -> None:
    assert redact_value(value) == value


def test_redact_value_does_not_mutate_its_input() -> None:
    value = {"password": "p", "inner": {"token": "t"}}
    redact_value(value)
    assert value == {"password": "p", "inner": {"token": "t"}}


def test_redact_secrets_processor() -> None:
    event = {
        "event": "channel.created using Bearer abc",
        "password": "p",
        "dsn": "postgresql://u:pw@h/db",
        "channel": {"token": "t", "platform": "sandbox"},
        "attempt": 2,
    }
    assert redact_secrets(None, "info", event) == {
        "event": "channel.created using Bearer [redacted]",
        "password": REDACTED,
        "dsn": "postgresql://u:***@h/db",
        "channel": {"token": REDACTED, "platform": "sandbox"},
        "attempt": 2,
    }


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in ("uvicorn.access", "faststream")}
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in noisy.items():
        logging.getLogger(name).setLevel(old)


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_emits_redacted_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("publisher", "INFO")
    structlog.get_logger("herald.test").info(
        "x", password="p", channel={"api_key": "k"}, dsn="postgresql://u:pw@h/db", attempt=3
    )
    (record,) = json_lines(capsys.readouterr().out)
    assert record["event"] == "x"
    assert record["level"] == "info"
    assert record["service"] == "publisher"
    assert record["password"] == REDACTED
    assert record["channel"] == {"api_key": REDACTED}
    assert record["dsn"] == "postgresql://u:***@h/db"
    assert record["attempt"] == 3
    assert "timestamp" in record


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_filters_by_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("api", "WARNING")
    log = structlog.get_logger("herald.test")
    log.info("hidden")
    log.warning("shown")
    records = json_lines(capsys.readouterr().out)
    assert [r["event"] for r in records] == ["shown"]
    assert records[0]["level"] == "warning"


@pytest.mark.usefixtures("restore_logging")
def test_standard_library_logs_are_json_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("alerter", "INFO")
    logging.getLogger("some.library").warning("connecting with Bearer abc.def")
    (record,) = json_lines(capsys.readouterr().out)
    assert record["event"] == "connecting with Bearer [redacted]"
    assert record["level"] == "warning"
    assert record["service"] == "alerter"


@pytest.mark.usefixtures("restore_logging")
def test_stdlib_tracebacks_are_rendered_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("unit", "INFO")
    try:
        raise ConnectionError("cannot reach postgresql://herald:hunter2@db/herald")
    except ConnectionError:
        logging.getLogger("some.library").exception("connect failed", extra={"token": "abc"})
    line = capsys.readouterr().out.strip().splitlines()[-1]
    record = json.loads(line)
    assert "Traceback" in record["exception"]
    assert "ConnectionError" in record["exception"]
    assert "hunter2" not in line
    assert record["token"] == "[redacted]"
