"""``make bench`` keeps working: the harness, run with tiny counts on the raw loop and on
Herald's real processes, writes its JSON report with medians, ratios and target verdicts.
(The Celery and dramatiq baselines and the scale suites have tests of their own.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_smoke_run_writes_a_report_with_ratios_and_verdicts(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "raw,herald", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    summary = report["summary"]
    for suite in ("raw per-message", "raw batched", "herald", "herald @50/s", "herald, limits on"):
        figures = summary[suite]
        assert figures["jobs"]["median"] > 0, suite
        assert figures["throughput_jobs_s"]["median"] > 0, suite
        assert figures["latency_p99_ms"]["median"] >= figures["latency_p50_ms"]["median"] > 0
    assert summary["herald"]["cpu_ms_per_job"]["median"] > 0
    assert summary["herald"]["peak_rss_mb_publisher"]["max"] > 0
    assert "idle_cpu_ms_per_s_recovery" in summary["herald"]
    assert summary["herald"]["idle_cpu_ms_per_s"]["median"] > 0, "the idle fleet is measured"
    assert "herald/raw per-message throughput" in report["ratios"]
    assert "herald, limits on/herald throughput" in report["ratios"]
    assert "herald/raw per-message throughput" in report["targets"]
    assert report["machine"]["cpus"] >= 1
    assert "target herald/raw per-message throughput" in done.stdout
