"""Tests of herald.cli.installation.Ports.from_env: moving the dev ports with env variables."""

from __future__ import annotations

import os
from dataclasses import fields

import pytest

from herald.cli.installation import Ports, env_var


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("HERALD_DEV_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_without_variables() -> None:
    assert Ports.from_env() == Ports()
    assert Ports().api == 8000
    assert Ports().nats == 14222


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("api", "HERALD_DEV_API_PORT"),
        ("nats_monitor", "HERALD_DEV_NATS_MONITOR_PORT"),
        ("postgres", "HERALD_DEV_POSTGRES_PORT"),
    ],
)
def test_env_var_names(name: str, variable: str) -> None:
    assert env_var(name) == variable


def test_the_api_port_is_honoured(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HERALD_DEV_API_PORT", "9000")
    ports = Ports.from_env()
    assert ports.api == 9000
    assert ports == Ports(api=9000)


@pytest.mark.parametrize("field", [f.name for f in fields(Ports)])
def test_every_port_can_be_moved(clean_env: pytest.MonkeyPatch, field: str) -> None:
    clean_env.setenv(env_var(field), "12345")
    ports = Ports.from_env()
    assert getattr(ports, field) == 12345
    others = {f.name for f in fields(Ports)} - {field}
    assert all(getattr(ports, o) == getattr(Ports(), o) for o in others)


@pytest.mark.parametrize("value", ["1", "65535"])
def test_port_bounds_are_accepted(clean_env: pytest.MonkeyPatch, value: str) -> None:
    clean_env.setenv("HERALD_DEV_API_PORT", value)
    assert Ports.from_env().api == int(value)


@pytest.mark.parametrize("value", ["abc", "70000", "65536", "0", "-1", "", " 9000", "80.5", "0x50"])
def test_a_bad_port_raises_naming_the_variable(clean_env: pytest.MonkeyPatch, value: str) -> None:
    clean_env.setenv("HERALD_DEV_API_PORT", value)
    with pytest.raises(ValueError, match="HERALD_DEV_API_PORT") as raised:
        Ports.from_env()
    assert repr(value) in str(raised.value)


@pytest.mark.parametrize("value", ["\u00b2", "\u2460"], ids=["superscript-two", "circled-one"])
def test_unicode_digits_raise_naming_the_variable(
    clean_env: pytest.MonkeyPatch, value: str
) -> None:
    """``str.isdigit`` accepts these but ``int`` cannot parse them."""
    clean_env.setenv("HERALD_DEV_API_PORT", value)
    with pytest.raises(ValueError, match="HERALD_DEV_API_PORT"):
        Ports.from_env()
