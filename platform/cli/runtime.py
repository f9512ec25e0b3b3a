"""Commands that run the platform: publish, rollback, db, worker, serve (SPEC 7, 8, 11)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from itsm.store import Database

from .common import DEFAULT_PACK, _database, _engine_errors, _load_or_report, pack_argument


@click.command()
@pack_argument
@_engine_errors
def publish(pack: Path) -> None:
    """Validate PACK and make it the active definitions version."""
    from itsm.engine import Definitions

    spec, problems = _load_or_report(pack)
    if spec is None:
        click.echo(f"{pack}: not published: the pack is not valid; the active version keeps serving", err=True)
        sys.exit(1)
    from itsm.engine.runtime.definitions import git_commit_of

    result = Definitions(_database()).publish(spec, git_commit=git_commit_of(pack))
    click.echo(result.message)
    for line in result.warnings:
        click.echo(line, err=True)
    for move, count in result.renamed.items():
        click.echo(f"  renamed {move}: {count} ticket{'s' if count != 1 else ''}")


@click.command()
@click.argument("version")
@_engine_errors
def rollback(version: str) -> None:
    """Re-activate an earlier definitions VERSION (a unique prefix of its id)."""
    from itsm.engine import Definitions

    result = Definitions(_database()).rollback(version)
    click.echo(result.message)
    for line in result.warnings:
        click.echo(line, err=True)


@click.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (ITSM_DATABASE_URL, default sqlite:///itsm.db)."""
    from itsm.store import Database

    database = Database()
    database.upgrade()
    click.echo(f"database {database.url.render_as_string(hide_password=True)} is up to date")
    from itsm.store.search import unindexed_tickets

    with database.read() as session:
        unindexed = unindexed_tickets(session)
    if unindexed:  # tickets from before the search index (migration 0004): index them once
        _reindex(database)


@db.command("reindex")
def db_reindex() -> None:
    """Rebuild the full-text index of every ticket under the active pack's forms (known-error suggestions)."""
    _reindex(_database())


def _reindex(database: Database) -> None:
    from itsm.engine import Engine, EngineError
    from itsm.engine.runtime.search_index import reindex

    try:
        count = reindex(Engine(database))
    except EngineError as exc:  # nothing published yet: nothing to index with
        click.echo(f"search index not rebuilt: {exc.message}")
        return
    click.echo(f"search index: {count} tickets indexed")


@click.command()
@click.option("--interval", default=5.0, show_default=True, help="Seconds between sweeps.")
@click.option("--batch", default=500, show_default=True, help="Tickets per transaction.")
@click.option("--once", is_flag=True, help="Run one sweep and exit (for cron or tests).")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="Processes a round with much due work is shared among (default: the cores, up to 4, on "
                   "PostgreSQL; 1 on SQLite).")
@_engine_errors
def worker(interval: float, batch: int, once: bool, processes: int | None) -> None:
    """Fire due SLA warnings and breaches and timed transitions (auto-close).

    Any number of workers may share a PostgreSQL database; run one against SQLite. A worker starts without
    the database and waits for it, as it does when the database goes away later (--once fails instead).
    A round with 200 tickets due or more is shared among processes forked for it, 100 or more each (--processes).
    """
    import logging

    from itsm.engine import Engine
    from itsm.engine.forks import default_processes
    from itsm.engine.worker import run_forever, settle, shared_round
    from itsm.store import Database

    database = Database()
    if processes is None or database.is_sqlite:  # one writer at a time on SQLite
        processes = default_processes(database)
    if once or database.is_sqlite:  # the embedded file gets its tables on first use; a server is migrated apart
        database.ensure_schema()
    engine = Engine(database)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)  # four lines for every timed transition else
    settle(engine)
    if once:
        result, folded = shared_round(engine, batch, processes)
        click.echo(f"swept: {result.summary()}")
        click.echo(f"KPI sums: {folded} changed tickets counted")
        return
    click.echo(f"worker: sweeping every {interval:g} s, in up to {processes} process"
               f"{'es' if processes != 1 else ''} (Ctrl-C stops)")
    run_forever(engine, interval, batch, processes=processes)


@click.command()
@click.option("--pack", default=DEFAULT_PACK, show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Pack to publish on start.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--watch", is_flag=True, help="Republish the pack when its files change.")
@click.option("--demo", is_flag=True, help="Create the demo users (password 'demo') and organizations if they do "
                                          "not exist.")
@_engine_errors
def serve(pack: Path, host: str, port: int, watch: bool, demo: bool) -> None:
    """Development server: migrates the database and publishes PACK, then serves the pages and the JSON API
    (production: `itsm db upgrade`, `itsm publish`, then gunicorn 'itsm.web:create_app()')."""
    import threading

    from itsm.engine.runtime.definitions import git_commit_of
    from itsm.web import create_app
    from itsm.web.extension import engine_of, install_watcher

    spec, _ = _load_or_report(pack)
    if spec is None:
        click.echo(f"{pack}: not served: the pack is not valid", err=True)
        sys.exit(1)
    # mail links point at this server unless ITSM_PUBLIC_URL says where people open the pages
    app = create_app({"PACK": str(pack), "PUBLIC_URL": os.environ.get("ITSM_PUBLIC_URL") or f"http://{host}:{port}"})
    engine = engine_of(app)
    engine.db.ensure_schema()  # what create_app never does
    published = engine.definitions.publish(spec, git_commit=git_commit_of(pack))
    if watch:
        from itsm.engine.authoring.watch import PackWatcher

        watcher = PackWatcher(engine.definitions, pack, report=click.echo)
        install_watcher(app, watcher)
        threading.Thread(target=watcher.run, daemon=True, name="itsm-watch").start()
    if demo:
        from itsm.engine.people.demo import DEMO_PASSWORD, DEMO_USERS, ensure_demo_users

        ensure_demo_users(engine.db, language=spec.language)
        click.echo(f"demo users (password '{DEMO_PASSWORD}'):")
        for user in DEMO_USERS:
            click.echo(f"  {user.name:<6} {user.role}")
    for line in published.warnings if not demo else ():  # the demo data holds the demo packs' organizations
        click.echo(line, err=True)
    click.echo(f"serving pack '{spec.id}' on http://{host}:{port}/ (sign in at /login; JSON API under /api)"
               f"{' (watching for changes)' if watch else ''} (Ctrl-C stops)")
    app.run(host=host, port=port, debug=False, use_reloader=False)
