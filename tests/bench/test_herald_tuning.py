"""The settings the bench gives Herald's fleet: read by the services' own settings classes, so
a misspelt variable (which a service would silently ignore) fails here."""

from __future__ import annotations

import pytest

from bench.herald_pipeline import tuning
from herald.api.settings import ApiSettings
from herald.publisher.settings import PublisherSettings


def _as_read(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> tuple[int, bool]:
    """The publishers' tenant cap and whether the API spends from a per-key budget."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return PublisherSettings().tenant_concurrency, ApiSettings().request_budget().enabled


def test_the_pipeline_alone_runs_without_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _as_read(monkeypatch, tuning(limits_on=False)) == (0, False)


def test_limits_on_turns_both_on_set_never_to_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    cap, budgeted = _as_read(monkeypatch, tuning(limits_on=True))
    assert budgeted
    assert cap >= 1000, "more than the bench ever has in flight"
    api = ApiSettings()
    assert api.api_rate_limit_per_s >= 1_000_000 and api.api_rate_limit_burst >= 1_000_000
