"""HTTP API throughput and latency through gunicorn, ours against a hand-written baseline, SQLite and PostgreSQL.

    python bench/api.py [--requests N] [--repeat R] [--threads T]

For each backend (a SQLite file in a temp dir; a new PostgreSQL schema, dropped afterwards) two servers run
side by side, each `gunicorn --workers 2` (sync workers) on a database of its own: our app
(`itsm.web:create_app()`, default pack; users rita, lars, sam) and bench/api_baseline.py, a minimal Flask +
SQLAlchemy Core app doing the same database work (the same token look-up, the same rows read and written on
the same schema) and nothing else: what our app decides (validation, priority, routing, SLA deadlines,
notification text, the transitions each ticket offers) it has written in as constants.
T client threads in this process (http.client connections, reused; gunicorn's sync workers close them after
each response, so every request connects anew, for both apps alike) send, after a warm-up:
  create  POST /api/tickets as rita (an incident on workplace/hardware, routed to service_desk)
  fire    POST /api/tickets/NUMBER/transitions/start as lars (service_desk) on the tickets just created
  list    GET  /api/tickets?limit=50 as lars
R rounds, alternating the apps; prints medians of req/s, p50 and p99, and ours/baseline (time per request =
baseline req/s / our req/s; the goal is <= 1.5x). PostgreSQL: ITSM_TEST_POSTGRES_URL (default below), skipped
with a note when unreachable. The client shares the CPUs with the servers: mind the load averages printed.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import sqlalchemy

from itsm.engine import Engine
from itsm.engine.people.users import add_user, create_token
from itsm.store import Database

from databases import postgres_database, postgres_version, sqlite_database

BENCH = Path(__file__).resolve().parent
DEFINITIONS = BENCH.parent / "definitions"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TICKET = {"service": "workplace", "category": "hardware", "impact": "low", "urgency": "medium"}
START = json.dumps({"fields": {"service": "workplace", "category": "hardware"}}).encode()
WARMUP = 20
OPERATIONS = ("create", "fire", "list")
Job = tuple[str, str, bytes | None, str]  # method, path, body, token
Figures = tuple[float, float, float]  # requests/s, p50 ms, p99 ms


def drive(port: int, jobs: list[Job], threads: int, expect: int) -> tuple[float, list[float], list[bytes]]:
    """Sends the jobs from `threads` client threads: (wall seconds, latencies, response bodies)."""
    latencies, bodies, errors = [0.0] * len(jobs), [b""] * len(jobs), []
    counter = itertools.count()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while (i := next(counter)) < len(jobs):
                method, path, body, token = jobs[i]
                start = time.perf_counter()
                connection.request(method, path, body=body, headers={"Authorization": f"Bearer {token}",
                                                                     "Content-Type": "application/json"})
                response = connection.getresponse()
                bodies[i] = response.read()
                latencies[i] = time.perf_counter() - start
                if response.status != expect:
                    errors.append(f"{method} {path}: {response.status} {bodies[i][:300]!r}")
        except Exception as exc:  # reported below, with the failed requests
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    workers = [threading.Thread(target=client) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, the first: {errors[0]}")
    return wall, latencies, bodies


def measure(port: int, jobs: list[Job], threads: int, expect: int) -> tuple[Figures, list[bytes]]:
    wall, latencies, bodies = drive(port, jobs, threads, expect)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return (len(jobs) / wall, cuts[49] * 1000, cuts[98] * 1000), bodies


def run_round(port: int, tokens: dict[str, str], requests: int, threads: int, seq: Iterator[int]) -> dict[str, Figures]:
    def creates(count: int) -> list[Job]:
        return [("POST", "/api/tickets", json.dumps({"process": "incident", "fields": {
            **TICKET, "short_description": f"Laptop {next(seq)} does not boot"}}).encode(), tokens["rita"])
            for _ in range(count)]

    def starts(numbers: list[str]) -> list[Job]:
        return [("POST", f"/api/tickets/{number}/transitions/start", START, tokens["lars"]) for number in numbers]

    def numbers(bodies: list[bytes]) -> list[str]:
        return [json.loads(body)["number"] for body in bodies]

    lists: list[Job] = [("GET", "/api/tickets?limit=50", None, tokens["lars"])]
    warm = numbers(drive(port, creates(WARMUP), threads, 201)[2])
    figures: dict[str, Figures] = {}
    figures["create"], bodies = measure(port, creates(requests), threads, 201)
    drive(port, starts(warm), threads, 200)
    figures["fire"], _ = measure(port, starts(numbers(bodies)), threads, 200)
    drive(port, lists * WARMUP, threads, 200)
    figures["list"], bodies = measure(port, lists * requests, threads, 200)
    assert len(json.loads(bodies[0])["items"]) == 50, "the queue should hold 50 tickets"
    return figures


def prepare(url: str) -> dict[str, str]:
    """Schema, pack, users and their tokens, created before gunicorn starts so its workers do not race for
    them (the baseline gets the same, on a database of its own)."""
    db = Database(url)
    try:
        db.upgrade()
        Engine(db).definitions.publish_path(DEFINITIONS)
        for name in ("rita", "lars", "sam"):
            add_user(db, name, email=f"{name}@example.invalid")
        return {name: create_token(db, name) for name in ("rita", "lars")}
    finally:
        db.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gunicorn(app: str, url: str, workdir: Path) -> Iterator[int]:
    port, log = free_port(), workdir / f"gunicorn-{uuid.uuid4().hex[:8]}.log"
    env = {**os.environ, "ITSM_DATABASE_URL": url, "ITSM_PACK": str(DEFINITIONS), "BENCH_DATABASE_URL": url}
    command = [str(Path(sys.executable).with_name("gunicorn")), "--workers", "2", "--worker-class", "sync",
               "--bind", f"127.0.0.1:{port}", "--pythonpath", str(BENCH), app]
    with log.open("w") as output:
        server = subprocess.Popen(command, env=env, cwd=workdir, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/api/health")
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    break
            except (OSError, http.client.HTTPException):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn {app} did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_backend(database: Callable[[], AbstractContextManager[str]], args: argparse.Namespace
                  ) -> dict[str, dict[str, list[Figures]]]:
    runs: dict[str, dict[str, list[Figures]]] = {app: {op: [] for op in OPERATIONS} for app in ("ours", "baseline")}
    with database() as ours_url, database() as base_url, tempfile.TemporaryDirectory(prefix="itsm-bench-") as tmp:
        tokens = {"ours": prepare(ours_url), "baseline": prepare(base_url)}  # the same schema, users and tokens
        with gunicorn("itsm.web:create_app()", ours_url, Path(tmp)) as ours, \
                gunicorn("api_baseline:create_app()", base_url, Path(tmp)) as baseline:
            seq = itertools.count(1)
            for _ in range(args.repeat):
                for app, port in (("ours", ours), ("baseline", baseline)):
                    for op, figures in run_round(port, tokens[app], args.requests, args.threads, seq).items():
                        runs[app][op].append(figures)
    return runs


def report(backend: str, runs: dict[str, dict[str, list[Figures]]]) -> None:
    for op in OPERATIONS:
        medians = {app: [statistics.median(f[k] for f in runs[app][op]) for k in range(3)] for app in runs}
        (rps, p50, p99), (base_rps, base_p50, base_p99) = medians["ours"], medians["baseline"]
        print(f"{backend:<11}{op:<7}{rps:11.1f}{p50:8.1f}{p99:8.1f}{base_rps:15.1f}{base_p50:8.1f}{base_p99:8.1f}"
              f"{base_rps / rps:14.2f}x{p50 / base_p50:7.2f}x{p99 / base_p99:7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per operation and round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are printed")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    args = parser.parse_args()

    one, five, fifteen = os.getloadavg()
    print(f"load average at start: {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs")
    print(f"python {sys.version.split()[0]}, SQLAlchemy {sqlalchemy.__version__}, SQLite {sqlite3.sqlite_version}; "
          f"gunicorn 2 sync workers per app, {args.threads} client threads, {WARMUP} warm-up + {args.requests} "
          f"requests per operation, median of {args.repeat} rounds")
    backends: list[tuple[str, Callable[[], AbstractContextManager[str]]]] = [("sqlite", sqlite_database)]
    base = os.environ.get("ITSM_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    if (version := postgres_version(base)) is not None:
        print(f"PostgreSQL {version} at {base}")
        backends.append(("postgresql", postgres_database(base)))
    print(f"{'backend':<11}{'op':<7}{'ours req/s':>11}{'p50 ms':>8}{'p99 ms':>8}{'baseline req/s':>15}{'p50 ms':>8}"
          f"{'p99 ms':>8}{'ratio time/req':>15}{'p50':>8}{'p99':>8}")
    for backend, database in backends:
        report(backend, bench_backend(database, args))
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
