"""``make chaos``: 1,000 jobs over two publishers while a publisher is killed 5 times at random
moments, nats-server is killed and restarted once and PostgreSQL is stopped (immediate) and
restarted once. Prints one row per run; exits 1 unless every run lost and doubled nothing.

    python -m tests.chaos [--runs 3] [--assets 100] [--channels 10] [--nats-nodes 3] [--keep]

With ``--nats-nodes 3`` NATS is a cluster on loopback (streams with 3 replicas) and, instead
of the single server's kill, the node leading the PUBLISH stream is killed and restarted.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from tests.chaos.installation import Installation
from tests.chaos.scenario import Plan, Result, run

COLUMNS = (
    "run",
    "jobs",
    "posts",
    "duplicates",
    "lost",
    "failed",
    "takeovers",
    "recovered by reason",
    "drain",
)


def row(n: int, result: Result) -> tuple[str, ...]:
    recovered = ", ".join(f"{k} {v}" for k, v in sorted(result.recovered.items())) or "-"
    failed = ", ".join(f"{k} {v}" for k, v in sorted(result.failed.items())) or "0"
    return (
        str(n),
        str(result.jobs),
        str(result.posts),
        str(result.duplicates),
        str(result.lost + result.contradicted),
        failed,
        str(result.takeovers),
        recovered,
        f"{result.drain_s:.1f} s",
    )


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [COLUMNS, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--window", type=float, default=20.0, help="seconds the faults spread over")
    parser.add_argument("--nats-nodes", type=int, default=1, help="3: a NATS cluster")
    parser.add_argument("--keep", action="store_true", help="keep data and logs")
    args = parser.parse_args()
    clustered = args.nats_nodes > 1
    plan = Plan(
        assets=args.assets,
        channels=args.channels,
        fault_window_s=args.window,
        nats_restarts=0 if clustered else 1,
        nats_node_restarts=1 if clustered else 0,
    )
    rows, clean = [], True
    for n in range(1, args.runs + 1):
        home = Path(tempfile.mkdtemp(prefix="herald-chaos-", dir=tempfile.gettempdir()))
        installation = Installation(home, nats_nodes=args.nats_nodes)
        print(f"run {n}: {plan.jobs} jobs, data and logs in {home}", flush=True)
        try:
            installation.start()
            result = asyncio.run(run(installation, plan))
        finally:
            installation.stop()
        for at, what in result.faults:
            print(f"  {at:6.1f} s  {what}")
        rows.append(row(n, result))
        clean = clean and result.clean
        if not args.keep and result.clean:
            shutil.rmtree(home, ignore_errors=True)
    print(table(rows))
    print("every run: nothing lost, nothing doubled" if clean else "FAILED: see the rows above")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
