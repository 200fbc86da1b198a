"""Tests of herald.common.consumers.redelivery_delay: backoff after a handler crashed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.common.consumers import redelivery_delay

NO_DB = settings(database=None, deadline=None)


@pytest.mark.parametrize(
    ("delivered", "delay"),
    [
        (0, 0.5),  # clamped (JetStream counts from 1)
        (1, 0.5),  # first delivery failed: half a second
        (2, 1.0),
        (3, 2.0),
        (4, 4.0),
        (5, 8.0),
        (6, 16.0),
        (7, 30.0),  # 32 capped
        (8, 30.0),
        (20, 30.0),  # the default MaxDeliver
    ],
)
def test_redelivery_delay_table(delivered: int, delay: float) -> None:
    result = redelivery_delay(delivered)
    assert result == delay
    assert isinstance(result, float)


@pytest.mark.parametrize(
    ("delivered", "base_s", "cap_s", "delay"),
    [
        (1, 2.0, 60.0, 2.0),
        (4, 2.0, 60.0, 16.0),
        (6, 2.0, 60.0, 60.0),
        (1, 10.0, 5.0, 5.0),
    ],
)
def test_redelivery_delay_with_custom_base_and_cap(
    delivered: int, base_s: float, cap_s: float, delay: float
) -> None:
    assert redelivery_delay(delivered, base_s=base_s, cap_s=cap_s) == pytest.approx(delay)


@NO_DB
@given(n=st.integers(min_value=1, max_value=200))
def test_redelivery_delay_never_shrinks(n: int) -> None:
    assert redelivery_delay(n) <= redelivery_delay(n + 1)


@NO_DB
@given(n=st.integers(min_value=1, max_value=1_000_000))
def test_redelivery_delay_stays_within_base_and_cap_for_any_delivery_count(n: int) -> None:
    """``consumer_max_deliver`` has no upper bound, so the count can be large.

    ``base_s * 2 ** (n - 1)`` raises OverflowError once ``n`` passes ~1025, inside the very
    ``except`` branch that is meant to nak the message.
    """
    assert 0.5 <= redelivery_delay(n) <= 30.0
