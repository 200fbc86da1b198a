"""Declaring streams and consumers retries through a cluster's transient refusals."""

from __future__ import annotations

from herald.common.streams import setup_retry_delay


def test_the_backoff_grows_and_is_capped() -> None:
    delays = [setup_retry_delay(n) for n in range(10)]
    assert delays[:3] == [0.2, 0.4, 0.8]
    assert delays == sorted(delays)
    assert max(delays) == 5.0
    assert setup_retry_delay(10_000) == 5.0  # no overflow after many tries
