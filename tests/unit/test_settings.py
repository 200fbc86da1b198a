"""Tests of herald.common.settings and herald.api.settings: HERALD_* environment variables."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from herald.api.settings import ApiSettings
from herald.common.settings import PLACEHOLDER_SECRETS, HeraldSettings, load_settings

DEV_RING = str(HeraldSettings.model_fields["credential_keys"].default)
DEV_KEY_B64 = DEV_RING.partition(":")[2]
REAL_RING = "prod1:" + base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No HERALD_* variable of the machine running the tests leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("HERALD_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_load_in_development() -> None:
    settings = load_settings(HeraldSettings)
    assert settings.environment == "development"
    assert not settings.is_production
    assert settings.http_port == 8080
    assert settings.database_url.startswith("postgresql+asyncpg://")


def test_environment_variables_are_read(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HERALD_HTTP_PORT", "9090")
    clean_env.setenv("HERALD_SERVICE_NAME", "publisher")
    settings = load_settings(HeraldSettings)
    assert settings.http_port == 9090
    assert settings.service_name == "publisher"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HERALD_HTTP_PORT", "notaport"),
        ("HERALD_HTTP_PORT", "70000"),
        ("HERALD_DB_POOL_SIZE", "0"),
        ("HERALD_LOG_LEVEL", "LOUD"),
        ("HERALD_DATABASE_URL", "mysql://u@h/db"),
        ("HERALD_STREAM_REPLICAS", "9"),
    ],
)
def test_a_bad_variable_exits_2_naming_it(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(SystemExit) as exited:
        load_settings(HeraldSettings)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("herald: invalid settings:")
    assert variable in lines[0]


def test_every_bad_variable_is_named(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HERALD_HTTP_PORT", "notaport")
    clean_env.setenv("HERALD_LOG_LEVEL", "LOUD")
    with pytest.raises(SystemExit):
        load_settings(HeraldSettings)
    err = capsys.readouterr().err
    assert "HERALD_HTTP_PORT" in err
    assert "HERALD_LOG_LEVEL" in err


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/herald", "postgresql+asyncpg://u:p@db:5432/herald"),
        ("postgres://u@db/herald", "postgresql+asyncpg://u@db/herald"),
        ("postgresql+asyncpg://u@db/herald", "postgresql+asyncpg://u@db/herald"),
        (
            "postgresql://u@db/herald?options=a://b",
            "postgresql+asyncpg://u@db/herald?options=a://b",
        ),
    ],
)
def test_database_url_uses_the_async_driver(url: str, expected: str) -> None:
    assert HeraldSettings(database_url=url).database_url == expected


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "sqlite:///x.db", "postgresql+psycopg://u@h/db", "", "db:5432/herald"],
)
def test_database_url_refuses_other_databases_and_drivers(url: str) -> None:
    with pytest.raises(ValidationError, match="postgresql"):
        HeraldSettings(database_url=url)


@pytest.mark.parametrize(
    ("level", "expected"),
    [("DEBUG", "DEBUG"), ("info", "INFO"), ("Warning", "WARNING"), ("error", "ERROR")],
)
def test_log_level_is_normalised(level: str, expected: str) -> None:
    assert HeraldSettings(log_level=level).log_level == expected


@pytest.mark.parametrize("level", ["TRACE", "CRITICAL", "warn", "", "INFO "])
def test_unknown_log_levels_are_refused(level: str) -> None:
    with pytest.raises(ValidationError, match="DEBUG, INFO, WARNING, ERROR"):
        HeraldSettings(log_level=level)


def test_development_accepts_the_dev_credential_key() -> None:
    assert HeraldSettings(environment="development").credential_keys == DEV_RING


def test_production_refuses_the_default_dev_credential_key() -> None:
    with pytest.raises(ValidationError, match="development key is refused in production"):
        HeraldSettings(environment="production")


def test_production_accepts_a_real_key_ring() -> None:
    settings = HeraldSettings(environment="production", credential_keys=REAL_RING)
    assert settings.is_production
    assert settings.credential_keys == REAL_RING


@pytest.mark.parametrize(
    "ring",
    [
        DEV_RING,
        f"{REAL_RING},{DEV_RING}",  # appended: as the last key it even becomes the active one
        f"main:{DEV_KEY_B64}",  # the published dev key under another id
    ],
    ids=["default", "dev-key-appended", "dev-key-renamed"],
)
def test_production_refuses_the_dev_key_anywhere_in_the_ring(ring: str) -> None:
    with pytest.raises(ValidationError, match="development key"):
        HeraldSettings(environment="production", credential_keys=ring)


def test_load_settings_in_production_with_the_dev_key_names_the_variable(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HERALD_ENVIRONMENT", "production")
    with pytest.raises(SystemExit) as exited:
        load_settings(HeraldSettings)
    assert exited.value.code == 2
    assert "HERALD_CREDENTIAL_KEYS" in capsys.readouterr().err


def test_api_settings_defaults() -> None:
    settings = ApiSettings()
    assert settings.service_name == "api"
    assert settings.http_port == 8000
    assert settings.operator_token == "dev-operator-token"


@pytest.mark.parametrize("token", sorted(PLACEHOLDER_SECRETS))
def test_api_production_refuses_a_placeholder_operator_token(token: str) -> None:
    with pytest.raises(ValidationError, match="operator_token"):
        ApiSettings(environment="production", credential_keys=REAL_RING, operator_token=token)


def test_api_production_refuses_the_default_operator_token() -> None:
    with pytest.raises(ValidationError, match="set a real secret"):
        ApiSettings(environment="production", credential_keys=REAL_RING)


def test_api_production_accepts_a_real_operator_token() -> None:
    settings = ApiSettings(
        environment="production", credential_keys=REAL_RING, operator_token="x" * 40
    )
    assert settings.operator_token == "x" * 40


def test_api_development_accepts_the_placeholder_token() -> None:
    assert ApiSettings(environment="development").operator_token == "dev-operator-token"


def test_api_load_settings_in_production_names_the_operator_token_variable(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HERALD_ENVIRONMENT", "production")
    clean_env.setenv("HERALD_CREDENTIAL_KEYS", REAL_RING)
    with pytest.raises(SystemExit) as exited:
        load_settings(ApiSettings)
    assert exited.value.code == 2
    assert "HERALD_OPERATOR_TOKEN" in capsys.readouterr().err


def test_api_settings_read_their_own_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HERALD_HTTP_PORT", "8123")
    clean_env.setenv("HERALD_MAX_BODY_BYTES", "2048")
    settings = load_settings(ApiSettings)
    assert settings.http_port == 8123
    assert settings.max_body_bytes == 2048


def test_settings_are_frozen() -> None:
    settings = HeraldSettings()
    with pytest.raises(ValidationError):
        settings.http_port = 1  # type: ignore[misc]


def test_a_row_republished_after_a_lost_mark_is_still_in_the_duplicate_window() -> None:
    HeraldSettings(outbox_grace_s=2, outbox_mark_linger_s=0.1, stream_duplicate_window_s=120)
    with pytest.raises(ValidationError, match="HERALD_STREAM_DUPLICATE_WINDOW_S"):
        HeraldSettings(outbox_grace_s=119, outbox_mark_linger_s=1, stream_duplicate_window_s=120)
