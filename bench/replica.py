"""Read-replica benchmark (issue 18): replication lag under writes, and reads on the replica against the primary.

    python bench/replica.py [--tickets 100000] [--creates 1000] [--threads 4] [--repeat 10]

Starts a PostgreSQL primary and its streaming replica of their own (tests/integration/streaming_replica.py:
`pg_basebackup -R`, both on this machine, durable settings: fsync and synchronous_commit on, the replica
asynchronous, as a default streaming replica is). Then:

1. bulk-loads N incidents with their events and clocks on the primary (bench/kpis.py `seed`: 10,000
   tickets per transaction) and waits for the replica to replay them;
2. a burst of C creates through the engine from T threads (each its own transaction, as gunicorn workers
   would send them), then waits for the replica to replay them;
3. after a VACUUM ANALYZE, times the same reads in process (Flask's test client) on an app reading the
   primary and on one reading the replica (`ITSM_REPLICA_DATABASE_URL`), alternated: a full-text search
   and known-error suggestions; p50 of R each after a warm-up round.

While 1 and 2 run, a thread samples the primary's `pg_stat_replication` every 20 ms: how many bytes of WAL
the replica had not yet replayed, and `replay_lag` (the time between a commit on the primary and its replay).
Prints them, the catch-up after the last write, the sizes of the tables (bytes per row, to estimate a
larger desk) and the load average. A plain script printing figures: no assertions on time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from kpis import NOW, seed
from sqlalchemy import create_engine, text

from itsm.web import create_app, engine_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from streaming_replica import StreamingPair, streaming_pair, wait_for_replay  # noqa: E402

LAPTOP = {"short_description": "Laptop does not boot after the update", "service": "workplace",
          "category": "hardware", "impact": "low", "urgency": "medium"}
# what the replica answers (the KPIs fold their sums first, on the primary: `web.extension.kpi_engine`)
READS = (("search q=laptop", "/api/tickets?q=laptop&limit=50"),
         ("suggestions", "/api/suggestions?text=laptop+does+not+boot"))
DURABLE = {"max_connections": "100"}  # PostgreSQL's defaults otherwise: fsync on, synchronous_commit on


class LagSampler:
    """Samples the primary's view of the replica every `every` seconds while the block runs."""

    def __init__(self, primary_url: str, every: float = 0.02):
        self.engine = create_engine(primary_url)
        self.every = every
        self.bytes_behind: list[int] = []
        self.replay_lag: list[float] = []
        self._stop = threading.Event()

    @contextmanager
    def sampling(self) -> Iterator[LagSampler]:
        self.bytes_behind.clear()
        self.replay_lag.clear()
        self._stop.clear()
        worker = threading.Thread(target=self._sample, daemon=True)
        worker.start()
        try:
            yield self
        finally:
            self._stop.set()
            worker.join()

    def _sample(self) -> None:
        with self.engine.connect() as connection:
            while not self._stop.is_set():
                row = connection.execute(text(
                    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), EXTRACT(EPOCH FROM replay_lag) "
                    "FROM pg_stat_replication")).first()
                connection.rollback()
                if row is not None:
                    self.bytes_behind.append(int(row[0] or 0))
                    if row[1] is not None:
                        self.replay_lag.append(float(row[1]))
                time.sleep(self.every)

    def summary(self) -> str:
        if not self.bytes_behind:
            return "no samples"
        lag = sorted(self.replay_lag) or [0.0]
        return (f"WAL not yet replayed: p50 {statistics.median(self.bytes_behind) / 1024:,.0f} KiB, max "
                f"{max(self.bytes_behind) / 2**20:,.1f} MiB; replay_lag p50 {statistics.median(lag) * 1000:,.0f} ms, "
                f"p99 {lag[int(0.99 * (len(lag) - 1))] * 1000:,.0f} ms, max {lag[-1] * 1000:,.0f} ms "
                f"({len(self.bytes_behind)} samples)")


def burst(app: Flask, creates: int, threads: int) -> float:
    """`creates` incidents by rita from `threads` threads; returns the seconds it took."""
    engine = engine_of(app)
    rita = engine.actor("rita")
    share = [creates // threads + (1 if i < creates % threads else 0) for i in range(threads)]

    def create(count: int) -> None:
        for n in range(count):
            engine.create(rita, "incident", {**LAPTOP, "short_description": f"Laptop {n} does not boot"})

    workers = [threading.Thread(target=create, args=(count,)) for count in share]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - began


def compare_reads(pair: StreamingPair, token: str, repeat: int) -> None:
    """The same reads on an app reading the primary and on one reading the replica, alternated (which goes
    first changes every round), so that the load of the machine weighs on both alike."""
    apps = {"primary": create_app({"DATABASE_URL": pair.primary_url, "TESTING": True}),
            "replica": create_app({"DATABASE_URL": pair.primary_url, "REPLICA_DATABASE_URL": pair.replica_url,
                                   "TESTING": True})}
    clients = {}
    for name, app in apps.items():
        engine_of(app).clock = lambda: NOW
        clients[name] = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    print(f"\n{'read (p50 ms, in process)':28} {'primary':>9} {'replica':>9} {'ratio':>6}")
    for label, path in READS:
        timings: dict[str, list[float]] = {name: [] for name in clients}
        for round_ in range(repeat + 1):  # the first round warms both up
            for name in sorted(clients, reverse=round_ % 2 == 1):
                began = time.perf_counter()
                response = clients[name].get(path, headers=headers)
                took = time.perf_counter() - began
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
                if round_:
                    timings[name].append(took)
        primary, replica = (statistics.median(timings[name]) * 1000 for name in ("primary", "replica"))
        print(f"{label:28} {primary:9.1f} {replica:9.1f} {replica / primary:6.2f}")


def vacuum_analyze(pair: StreamingPair) -> None:
    """What an installation's autovacuum does after a bulk load (and bench/scale.py after its copy)."""
    engine = create_engine(pair.primary_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def sizes(pair: StreamingPair, creates: int) -> None:
    """Table sizes, and the events of the tickets the engine made (the bulk-loaded ones have empty changes)."""
    engine = create_engine(pair.primary_url)
    with engine.connect() as connection:
        made = connection.execute(text(
            "SELECT count(*), avg(pg_column_size(e.*)) FROM events e "
            "WHERE e.ticket_id > (SELECT max(id) FROM tickets) - :creates"), {"creates": creates}).one()
        print(f"\nevents of the tickets the engine created: {made[0] / creates:.1f} a ticket, "
              f"{float(made[1] or 0):.0f} bytes a row on average (the row alone, without indexes)")
        total = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        print(f"database {total / 2**20:,.0f} MiB")
        for table in ("tickets", "events", "sla_clocks", "ticket_search"):
            rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            size = connection.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar_one()
            print(f"  {table:18} {rows:>10,} rows {size / 2**20:8,.1f} MiB with indexes, "
                  f"{size / max(rows, 1):6,.0f} bytes a row")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000, help="incidents bulk-loaded first")
    parser.add_argument("--creates", type=int, default=1000, help="creates in the burst, through the engine")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    began = time.perf_counter()
    with streaming_pair(DURABLE) as pair:
        print(f"primary and streaming replica started in {time.perf_counter() - began:.1f} s")
        sampler = LagSampler(pair.primary_url)
        with sampler.sampling():
            began = time.perf_counter()
            token = seed(pair.primary_url, args.tickets)
            loaded = time.perf_counter() - began
            caught_up = wait_for_replay(pair)
        print(f"bulk load of {args.tickets:,} tickets: {loaded:.1f} s; the replica replayed the rest "
              f"{caught_up * 1000:.0f} ms after the last commit\n  {sampler.summary()}")

        app = create_app({"DATABASE_URL": pair.primary_url, "TESTING": True})
        with sampler.sampling():
            took = burst(app, args.creates, args.threads)
            caught_up = wait_for_replay(pair)
        print(f"burst of {args.creates:,} creates from {args.threads} threads: {took:.1f} s "
              f"({args.creates / took:,.0f} a second); the replica replayed the rest {caught_up * 1000:.0f} ms "
              f"after the last commit\n  {sampler.summary()}")
        vacuum_analyze(pair)
        wait_for_replay(pair)
        compare_reads(pair, token, args.repeat)
        sizes(pair, args.creates)
        sampler.engine.dispose()
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
