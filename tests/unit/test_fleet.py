"""Tests of herald.cli.fleet.restart_delay: the supervisor's backoff between restarts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.cli.fleet import restart_delay

NO_DB = settings(database=None, deadline=None)


@pytest.mark.parametrize(
    ("recent_restarts", "delay"),
    [
        (-3, 0.5),  # clamped
        (0, 0.5),
        (1, 1.0),
        (2, 2.0),
        (3, 4.0),
        (4, 8.0),
        (5, 16.0),
        (6, 30.0),  # 32 capped
        (7, 30.0),
        (60, 30.0),
    ],
)
def test_restart_delay_doubles_from_half_a_second_and_caps_at_thirty(
    recent_restarts: int, delay: float
) -> None:
    result = restart_delay(recent_restarts)
    assert result == delay
    assert isinstance(result, float)


@pytest.mark.parametrize(
    ("recent_restarts", "base_s", "cap_s", "delay"),
    [
        (0, 1.0, 10.0, 1.0),
        (3, 1.0, 10.0, 8.0),
        (4, 1.0, 10.0, 10.0),
        (2, 0.1, 100.0, 0.4),
        (0, 5.0, 2.0, 2.0),  # the cap wins over the base
    ],
)
def test_restart_delay_with_custom_base_and_cap(
    recent_restarts: int, base_s: float, cap_s: float, delay: float
) -> None:
    assert restart_delay(recent_restarts, base_s=base_s, cap_s=cap_s) == pytest.approx(delay)


@NO_DB
@given(n=st.integers(min_value=0, max_value=200))
def test_restart_delay_never_shrinks_as_restarts_grow(n: int) -> None:
    assert restart_delay(n) <= restart_delay(n + 1)


@NO_DB
@given(n=st.integers(min_value=0, max_value=1_000_000))
def test_restart_delay_stays_within_base_and_cap_however_many_restarts(n: int) -> None:
    """A service crash-looping overnight must not crash the supervisor.

    ``base_s * 2 ** n`` is an int-to-float conversion that raises OverflowError once ``n``
    passes ~1024 (about 8.5 hours of 30 s restarts).
    """
    assert 0.5 <= restart_delay(n) <= 30.0
