"""Tests of herald.common.platforms: the catalog and channel validation messages."""

from __future__ import annotations

import pytest

from herald.common.platforms import (
    CATALOG,
    SANDBOX,
    PlatformInfo,
    RateLimit,
    config_problems,
    credential_problems,
)

MULTI = PlatformInfo(
    name="multi",
    title="Two of each",
    lookup=False,
    oauth=True,
    media=False,
    required_config=("account", "region"),
    required_credentials=("token", "secret"),
    rate_limit=RateLimit(per_period=1, period_s=1.0, burst=1),
)


def test_catalog_lists_every_platform_by_name() -> None:
    assert set(CATALOG) == {
        "sandbox",
        "mastodon",
        "google_business",
        "x",
        "linkedin",
        "webhook",
        "yodeck",
    }
    assert all(CATALOG[name].name == name for name in CATALOG)
    assert CATALOG["sandbox"] is SANDBOX
    assert SANDBOX.required_config == ("account",)
    assert SANDBOX.required_credentials == ("token",)


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"account": "acme"}, []),
        ({"account": "acme", "extra": 1}, []),
        ({}, ["config.account is required for sandbox"]),
        ({"account": ""}, ["config.account is required for sandbox"]),
        ({"account": None}, ["config.account is required for sandbox"]),
        ({"account": 42}, ["config.account is required for sandbox"]),
        ({"account": ["acme"]}, ["config.account is required for sandbox"]),
        ({"Account": "acme"}, ["config.account is required for sandbox"]),
    ],
)
def test_config_problems_for_the_sandbox(config: dict[str, object], problems: list[str]) -> None:
    assert config_problems(SANDBOX, config) == problems


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"account": "a", "region": "eu"}, []),
        ({"region": "eu"}, ["config.account is required for multi"]),
        (
            {},
            ["config.account is required for multi", "config.region is required for multi"],
        ),
    ],
)
def test_config_problems_lists_every_missing_key_in_order(
    config: dict[str, object], problems: list[str]
) -> None:
    assert config_problems(MULTI, config) == problems


@pytest.mark.parametrize(
    ("credentials", "problems"),
    [
        ({"token": "t"}, []),
        ({"token": "t", "refresh": "r"}, []),
        ({}, ["credentials.token is required for sandbox"]),
        ({"token": ""}, ["credentials.token is required for sandbox"]),
        ({"token": None}, ["credentials.token is required for sandbox"]),
        ({"tokens": "t"}, ["credentials.token is required for sandbox"]),
    ],
)
def test_credential_problems_for_the_sandbox(
    credentials: dict[str, object], problems: list[str]
) -> None:
    assert credential_problems(SANDBOX, credentials) == problems


def test_credential_problems_lists_every_missing_key_in_order() -> None:
    assert credential_problems(MULTI, {}) == [
        "credentials.token is required for multi",
        "credentials.secret is required for multi",
    ]
    assert credential_problems(MULTI, {"secret": "s"}) == [
        "credentials.token is required for multi"
    ]


def test_a_platform_without_requirements_has_no_problems() -> None:
    bare = PlatformInfo("bare", "Bare", False, False, False, (), (), RateLimit(1, 1.0, 1))
    assert config_problems(bare, {}) == []
    assert credential_problems(bare, {}) == []


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"playlist": "880"}, []),
        ({"screens": "4121,4122"}, []),
        ({"playlist": "880", "screens": "4121"}, []),
        ({}, ["config needs one of playlist, screens for yodeck"]),
        ({"playlist": ""}, ["config needs one of playlist, screens for yodeck"]),
        ({"playlist": "lobby"}, ["config.playlist is not in the form yodeck expects (\\d+)"]),
        ({"screens": "1;2"}, ["config.screens is not in the form yodeck expects (\\d+(,\\d+)*)"]),
    ],
)
def test_a_yodeck_channel_names_a_playlist_or_screens(
    config: dict[str, object], problems: list[str]
) -> None:
    assert config_problems(CATALOG["yodeck"], config) == problems


def test_a_yodeck_token_is_label_and_secret() -> None:
    yodeck = CATALOG["yodeck"]
    assert credential_problems(yodeck, {"api_token": "herald:0123abc"}) == []
    assert credential_problems(yodeck, {"api_token": "0123abc"}) == [
        "credentials.api_token is not in the form yodeck expects"
    ]
