"""One delivery round of the worker on a seed-scale desk, in a fresh process (issue 18).

    python bench/delivery_round.py --desk 20011 [--runs 7] [--database URL] [--refill] [--profile OUT.raw]

`itsm worker --once` delivers the outbox right after its sweep, in a process that has just started; after
1,000 breaches on the desk of bench/scale.py (built with --build-only) the outbox holds about 2,000 messages
(a mail per breach and a webhook to the unresolvable hooks.example.invalid) and a round takes 50 of them.
This fills the outbox once that way (1,000 clocks made due, `itsm worker --once` with SMTP on port 1), then
per run puts every unsent message back as it was queued (pending, due since it was written, no attempt)
and times `deliver_outbox` alone in a new process (start-up as the command's: engine, active pack,
collector settled), with SMTP on port 1 (refused). bench/delivery.py measures many rounds in one warm process
instead. Prints each run and the median; no assertions on time.
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
from typing import Any

from sqlalchemy import create_engine, event, text

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESET = ("UPDATE outbox SET status = 'pending', attempts = 0, last_error = NULL, sent_at = NULL, "
         "next_attempt_at = created_at WHERE status <> 'sent' AND (status <> 'pending' OR attempts <> 0 "
         "OR last_error IS NOT NULL OR next_attempt_at <> created_at)")  # only what the last run changed


def reset(admin: Any) -> None:
    """The round's messages as they were queued, and the table vacuumed as autovacuum would have by then
    (each run leaves 100 dead row versions: its claims and its outcomes)."""
    with admin.begin() as c:
        c.execute(text(RESET))
    with admin.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE outbox"))


def child(url: str, after_sweep: bool) -> None:
    """Runs in the fresh process: the command's start-up, then one timed round."""
    from itsm.engine import Engine
    from itsm.engine.channels.delivery import deliver_outbox
    from itsm.engine.worker import settle
    from itsm.store import Database

    database = Database(url)
    database.ensure_schema()
    engine = Engine(database)
    settle(engine)
    if after_sweep:  # as in the command, where the sweep ran first (here with nothing due)
        from itsm.engine.runtime.sweep import DEFAULT_BATCH, sweep_due

        sweep_due(engine, DEFAULT_BATCH, True)
    statements = []
    event.listen(database.engine, "before_cursor_execute", lambda *_: statements.append(1))
    started = time.perf_counter()
    result = deliver_outbox(engine)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "sent": result.sent, "retried": result.retried,
                      "failed": result.failed, "statements": len(statements)}))


def fill(url: str) -> None:
    """Earlier messages marked sent, 1,000 running clocks breached by `itsm worker --once` (SMTP refused)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scale import make_due

    from itsm.store import Database

    db = Database(url)
    with db.engine.begin() as c:
        c.execute(text("UPDATE outbox SET status = 'sent' WHERE status <> 'sent'"))
    make_due(db)
    db.dispose()
    env = {**os.environ, "ITSM_DATABASE_URL": url, "ITSM_SMTP_PORT": "1"}
    done = subprocess.run([str(Path(sys.executable).with_name("itsm")), "worker", "--once"], env=env,
                          capture_output=True, text=True, check=True)
    print("filled:", "; ".join(done.stdout.strip().splitlines()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--desk", type=int, default=20011, help="the desk itsm_scale_N of bench/scale.py")
    parser.add_argument("--database", default=os.environ.get("ITSM_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--refill", action="store_true", help="breach 1,000 clocks again to fill the outbox")
    parser.add_argument("--after-sweep", action="store_true", help="a sweep with nothing due before the round")
    parser.add_argument("--profile", type=Path, help="py-spy raw output of one more run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.after_sweep)
        return
    base = args.database
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3Ditsm_scale_{args.desk}"
    admin = create_engine(url)
    with admin.begin() as c:
        breaches = c.execute(text(
            "SELECT count(*) FROM outbox WHERE status <> 'sent' AND notification = 'sla_breach_chat'")).scalar_one()
    if args.refill or breaches < 900:  # not filled yet: the build's messages are those of its few templates
        fill(url)
    reset(admin)
    with admin.begin() as c:
        mix = dict(c.execute(text(
            "SELECT channel, count(*) FROM (SELECT channel FROM outbox WHERE status = 'pending' "
            "ORDER BY next_attempt_at, id LIMIT 50) first GROUP BY channel")).all())
        unsent = c.execute(text("SELECT count(*) FROM outbox WHERE status <> 'sent'")).scalar_one()
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"{unsent:,} messages queued; the round's 50: {mix}")
    env = {**os.environ, "ITSM_SMTP_PORT": "1"}
    command = [sys.executable, __file__, "--child", url] + (["--after-sweep"] if args.after_sweep else [])
    times = []
    for run in range(args.runs):
        reset(admin)
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        times.append(figures["seconds"])
        print(f"  run {run + 1}: {figures['seconds'] * 1000:6.1f} ms, {figures['statements']} statements, "
              f"sent {figures['sent']}, retried {figures['retried']}, failed {figures['failed']}")
    print(f"median {statistics.median(times) * 1000:.1f} ms ({min(times) * 1000:.1f}-{max(times) * 1000:.1f})")
    if args.profile:
        reset(admin)
        py_spy = Path(sys.executable).with_name("py-spy")
        py_spy = py_spy if py_spy.exists() else Path("/work/main/.venv/bin/py-spy")
        subprocess.run([str(py_spy), "record", "-r", "400", "-f", "raw", "-o", str(args.profile), "--", *command],
                       env=env, check=True, capture_output=True)
        print(f"profile of one more run in {args.profile}")
    reset(admin)
    admin.dispose()
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
