"""The KPI fold of the tickets a sweep of 1,000 breaches changed, in a fresh process (issue 18).

    python bench/kpi_fold.py --desk 20011 [--runs 7] [--database URL]

`itsm worker --once` sweeps, delivers, then folds the changed tickets into the KPI sums (`fold_kpis`).
Per run, on a desk of bench/scale.py (built with --build-only): one process folds what is pending, makes
1,000 running clocks due (other ones each run) and sweeps them without delivering (about 800 tickets
changed); then a new process (start-up as the command's: engine, active pack, collector settled) times
`fold_kpis` alone. Prints each run and the median; no assertions on time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RUNNING = 7000  # running clocks of the benchmark desk, about: runs take 1,000 after another


def prepare(url: str, skip: int) -> None:
    """What is pending folded, then 1,000 clocks (after the newest `skip`) breached by a sweep."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scale import make_due

    from itsm.engine import Engine
    from itsm.engine.worker import fold_kpis, sweep
    from itsm.store import Database

    db = Database(url)
    engine = Engine(db)
    fold_kpis(engine)
    make_due(db, skip=skip)
    sweep(engine, deliver=False)
    db.dispose()


def child(url: str) -> None:
    """Runs in the fresh process: the command's start-up, then the timed fold."""
    from itsm.engine import Engine
    from itsm.engine.worker import fold_kpis, settle
    from itsm.store import Database

    engine = Engine(Database(url))
    settle(engine)
    started = time.perf_counter()
    folded = fold_kpis(engine)
    print(json.dumps({"seconds": time.perf_counter() - started, "folded": folded}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--desk", type=int, required=True, help="the desk's size: schema itsm_scale_N")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database", default=os.environ.get("ITSM_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
    parser.add_argument("--child", choices=("prepare", "fold"), help=argparse.SUPPRESS)
    parser.add_argument("--skip", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = f"{args.database}{'&' if '?' in args.database else '?'}options=-csearch_path%3Ditsm_scale_{args.desk}"
    if args.child == "prepare":
        return prepare(url, args.skip)
    if args.child == "fold":
        return child(url)
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    times = []
    for run in range(args.runs):
        command = [sys.executable, __file__, "--desk", str(args.desk), "--database", args.database]
        subprocess.run([*command, "--child", "prepare", "--skip", str(run * 1000 % RUNNING)], check=True)
        done = subprocess.run([*command, "--child", "fold"], check=True, capture_output=True, text=True)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        times.append(figures["seconds"])
        print(f"  run {run + 1}: {figures['seconds'] * 1000:.1f} ms, {figures['folded']} tickets", flush=True)
    print(f"median {statistics.median(times) * 1000:.1f} ms over {len(times)} runs; load average at end: "
          "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
