"""The bench's verdicts (pure): an open-loop latency is judged only at a load Herald took."""

from __future__ import annotations

from bench.__main__ import verdicts
from bench.herald_pipeline import _rate


def test_a_latency_at_a_load_herald_did_not_take_is_missed() -> None:
    found = {"herald/raw p99 @500/s": 0.87, "herald achieved/offered @500/s": 0.07}
    verdict = verdicts(found, {})["herald/raw p99 @500/s"]
    assert verdict == "0.87 (target <= 3.0): MISSED, Herald took 7% of the offered approvals"


def test_a_latency_at_the_offered_load_is_judged_on_its_ratio() -> None:
    met = {"herald/raw p99 @500/s": 2.5, "herald achieved/offered @500/s": 0.98}
    assert verdicts(met, {})["herald/raw p99 @500/s"] == "2.50 (target <= 3.0): met"
    slow = {"herald/raw p99 @500/s": 3.5, "herald achieved/offered @500/s": 1.0}
    assert verdicts(slow, {})["herald/raw p99 @500/s"] == "3.50 (target <= 3.0): MISSED"


def test_the_rate_is_events_per_second_between_the_first_and_the_last() -> None:
    assert _rate([10.0, 10.5, 11.0, 12.0]) == 1.5
    assert _rate([5.0]) == 0.0
    assert _rate([]) == 0.0
