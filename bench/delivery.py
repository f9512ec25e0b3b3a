"""Outbox delivery benchmark (SPEC 8, issue 18): what one message costs the worker.

    python bench/delivery.py [--messages N] [--runs R] [--backends sqlite,postgresql]

A fresh database per backend (a SQLite file; a PostgreSQL schema when ITSM_TEST_POSTGRES_URL is set, dropped
afterwards) with the default pack and 20 users. Each run queues N messages and delivers them with the
worker's `deliver_outbox` (rounds of up to 50) until none is due, in two cases:

- local servers: four in five are mails (half to an address, half to a user) to a local aiosmtpd that
  accepts them, one in ten a webhook to a local HTTP server answering 204, one in ten a webhook to an HTTPS
  port on 127.0.0.1 that refuses the connection;
- nothing answers (the benchmark desk's case, SMTP on a closed port and unreachable webhooks): half mails to
  a closed SMTP port, half webhooks to a closed HTTPS port; every send fails and is retried later.

Prints, per case, the median over R runs of the time per message and the transactions, commits and SQL
statements per message. Old against new cannot run in one checkout: run this script with the older code
first on the path (e.g. an extracted `platform/` named `itsm` in PYTHONPATH) and compare.
bench/delivery_round.py times one round in a fresh process on the seed-scale desk instead.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event

from itsm.engine import Engine
from itsm.engine.channels.delivery import deliver_outbox
from itsm.engine.people.users import add_user
from itsm.store import Database, OutboxMessage

from databases import postgres_database, postgres_version, sqlite_database

ROOT = Path(__file__).resolve().parents[1]
USERS = [f"person{i:02d}" for i in range(20)]


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class Accepting:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        return "250 OK"


def free_port() -> int:
    """A port nothing listens on (connecting to it is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def local_servers() -> Iterator[tuple[int, str]]:
    """(SMTP port of an aiosmtpd that accepts every mail, URL of an HTTP server answering 204)."""
    from aiosmtpd.controller import Controller

    controller = Controller(Accepting(), hostname="127.0.0.1", port=free_port())
    controller.start()
    http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield controller.port, f"http://127.0.0.1:{http.server_address[1]}/hook"
    finally:
        http.shutdown()
        controller.stop()


class Counter:
    """Transactions begun, commits and SQL statements on `db` while counting."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        self.counts = {"begin": 0, "commit": 0, "before_cursor_execute": 0}
        self.listeners = {name: self._counter(name) for name in self.counts}
        for name, listener in self.listeners.items():
            event.listen(self.engine, name, listener)

    def _counter(self, name: str) -> Callable[..., None]:
        def count(*_: Any) -> None:
            self.counts[name] += 1
        return count

    def stop(self) -> dict[str, int]:
        for name, listener in self.listeners.items():
            event.remove(self.engine, name, listener)
        return self.counts


def queue(engine: Engine, messages: list[dict[str, Any]]) -> None:
    now = engine.clock()
    with engine.db.write() as session:
        session.execute(delete(OutboxMessage))
        for fields in messages:
            session.add(OutboxMessage(created_at=now, notification="sla_breach_chat", subject="INC0000001 breached",
                                      body='{"text": "INC0000001 breached its resolution target"}',
                                      status="pending", attempts=0, next_attempt_at=now, **fields))


def mixed(n: int, hook: str, refused: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i % 10 == 8:
            out.append({"channel": "webhook", "recipients": [], "url": hook})
        elif i % 10 == 9:
            out.append({"channel": "webhook", "recipients": [], "url": refused})
        else:
            to = f"user:{USERS[i % len(USERS)]}" if i % 2 else f"desk{i}@example.invalid"
            out.append({"channel": "email", "recipients": [to], "url": None})
    return out


def unanswered(n: int, refused: str) -> list[dict[str, Any]]:
    return [{"channel": "webhook", "recipients": [], "url": refused} if i % 2 else
            {"channel": "email", "recipients": [f"user:{USERS[i % len(USERS)]}"], "url": None} for i in range(n)]


def deliver_all(engine: Engine, n: int) -> tuple[float, dict[str, int], int]:
    """Seconds, counts and messages handled by delivery rounds until one handles nothing."""
    counter = Counter(engine.db)
    handled, started = 0, time.perf_counter()
    while True:
        result = deliver_outbox(engine)
        done = result.sent + result.retried + result.failed
        if done == 0:
            break
        handled += done
    seconds = time.perf_counter() - started
    return seconds, counter.stop(), handled


def run_backend(name: str, database: Callable[[], AbstractContextManager[str]], args: argparse.Namespace) -> None:
    with database() as url, local_servers() as (smtp_port, hook):
        db = Database(url)
        db.upgrade()
        engine = Engine(db)
        engine.definitions.publish_path(ROOT / "definitions")
        for user in USERS:
            add_user(db, user, email=f"{user}@example.invalid")
        refused_smtp = free_port()
        refused_hook = f"https://127.0.0.1:{free_port()}/hook"
        cases = {"local servers": (smtp_port, lambda: mixed(args.messages, hook, refused_hook)),
                 "nothing answers": (refused_smtp, lambda: unanswered(args.messages, refused_hook))}
        for case, (port, messages) in cases.items():
            os.environ["ITSM_SMTP_PORT"] = str(port)
            times, counts = [], []
            for _ in range(args.runs):
                queue(engine, messages())
                seconds, counted, handled = deliver_all(engine, args.messages)
                assert handled == args.messages, (handled, args.messages)
                times.append(seconds / handled)
                counts.append(counted)
            per = {key: statistics.median(c[key] for c in counts) / args.messages for key in counts[0]}
            print(f"  {name:10} {case:16} {statistics.median(times) * 1000:7.2f} ms/message "
                  f"({min(times) * 1000:.2f}-{max(times) * 1000:.2f}), {per['begin']:.2f} transactions, "
                  f"{per['commit']:.2f} commits, {per['before_cursor_execute']:.2f} statements per message")
        db.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200, help="messages queued per run (default 200)")
    parser.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    from itsm.engine.channels import delivery

    print(f"python {sys.version.split()[0]}, code from {delivery.__file__}; {args.messages} messages, "
          f"{args.runs} runs; median time per message (min-max)")
    backends = args.backends.split(",")
    if "sqlite" in backends:
        run_backend("sqlite", sqlite_database, args)
    base = os.environ.get("ITSM_TEST_POSTGRES_URL")
    if "postgresql" in backends and base and postgres_version(base):
        run_backend("postgresql", postgres_database(base), args)
    elif "postgresql" in backends:
        print("  postgresql: skipped (ITSM_TEST_POSTGRES_URL is not set)")
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
