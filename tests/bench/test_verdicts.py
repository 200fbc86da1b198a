"""The bench's verdicts (pure): an open-loop latency is judged only at a load Herald took; a
job that never finished is reported, for Herald as a missed target."""

from __future__ import annotations

from bench.__main__ import unfinished, verdicts
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


def test_a_job_herald_never_finished_misses_its_target_and_a_baselines_is_reported() -> None:
    summary = {
        "herald": {"jobs_unfinished": {"median": 0.0, "min": 0.0, "max": 0.0}},
        "herald @500/s": {"jobs_unfinished": {"median": 0.0, "min": 0.0, "max": 2.0}},
        "raw per-message @500/s": {"jobs_unfinished": {"median": 1.0, "min": 0.0, "max": 1.0}},
        "raw batched": {"jobs_unfinished": {"median": 0.0, "min": 0.0, "max": 0.0}},
    }
    assert unfinished(summary) == {
        "herald: jobs unfinished": "0 at most (target 0): met",
        "herald @500/s: jobs unfinished": "2 at most (target 0): MISSED",
        "raw per-message @500/s: jobs unfinished": "1 at most (no outbox: lost under load)",
    }
