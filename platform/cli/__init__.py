"""The `itsm` command line (SPEC 11). Commands import what they drive lazily, so `itsm validate` stays fast."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from itsm.interpreter import DefinitionError, PackSpec
    from itsm.store import Database

DEFAULT_PACK = "definitions"
_SINGULAR = {"processes": "process", "states": "state", "transitions": "transition", "fields": "field",
             "teams": "team", "clocks": "clock"}


def _version() -> str:
    try:
        return version("itsm-platform")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


class _Commands(click.Group):
    """Errors from outside the pack (the database, the file system) end in one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            message = _environment_error(exc)
            if message is None:
                raise
            click.echo(f"error: {message}", err=True)
            sys.exit(1)


def _environment_error(exc: Exception) -> str | None:
    """What an admin can act on, for errors the environment caused; None for anything else (a bug)."""
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy import exc as sa

    from itsm.store.database import default_url

    if isinstance(exc, sa.ArgumentError):
        scheme = default_url().split(":", 1)[0]
        return (f"the database URL ({scheme}:...) is not one SQLAlchemy can use: {_first_line(exc)}; set "
                "ITSM_DATABASE_URL to sqlite:///itsm.db or postgresql+psycopg://USER@HOST:5432/DB")
    if isinstance(exc, sa.SQLAlchemyError):
        from sqlalchemy.engine import make_url

        url = make_url(default_url()).render_as_string(hide_password=True)
        return f"database {url}: {_first_line(getattr(exc, 'orig', None) or exc)}"
    return None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="itsm")
def main() -> None:
    """Low-code IT service management: processes, SLAs and routing defined in YAML."""


pack_argument = click.argument("pack", required=False, default=DEFAULT_PACK,
                               type=click.Path(file_okay=False, path_type=Path))


def _load_or_report(pack: Path) -> tuple[PackSpec | None, list[DefinitionError]]:
    from itsm.interpreter import check_pack

    if not pack.is_dir():
        raise click.UsageError(f"pack directory '{pack}' not found (give the folder that holds pack.yaml)")
    spec, problems = check_pack(pack)
    for problem in problems:
        click.echo(str(problem))
    return spec, problems


@main.command()
@pack_argument
def validate(pack: Path) -> None:
    """Check a pack (default: ./definitions); print every problem as FILE:LINE:COL lines.

    Exit status: 0 valid, 1 invalid, 2 usage error.
    """
    spec, problems = _load_or_report(pack)
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    if spec is None:
        click.echo(f"{pack}: {errors} error{'s' if errors != 1 else ''}"
                   f"{f', {warnings} warning' + ('s' if warnings != 1 else '') if warnings else ''}", err=True)
        sys.exit(1)
    counts = spec.summary()
    summary = ", ".join(f"{n} {name if n != 1 else _SINGULAR[name]}" for name, n in counts.items())
    tail = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
    click.echo(f"{pack}: pack '{spec.id}' is valid: {summary}{tail}")


@main.command()
@click.argument("process")
@click.option("--pack", default=DEFAULT_PACK, show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Pack directory.")
def graph(process: str, pack: Path) -> None:
    """Print PROCESS as a Mermaid stateDiagram-v2."""
    from itsm.interpreter.errors import did_you_mean
    from itsm.interpreter.graph import mermaid

    spec, _ = _load_or_report(pack)
    if spec is None:
        click.echo(f"{pack}: no graph: the pack is not valid", err=True)
        sys.exit(1)
    if process not in spec.processes:
        raise click.UsageError(f"no process '{process}' in the pack{did_you_mean(process, spec.processes)}"
                               f" (processes: {', '.join(sorted(spec.processes))})")
    click.echo(mermaid(spec.processes[process]), nl=False)


@main.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the schemas to (created if missing).")
@click.option("--reference", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the language reference in Markdown to this file.")
def schema(out: Path | None, reference: Path | None) -> None:
    """Write the JSON Schema of every kind, for editors' YAML extensions (and the Markdown reference)."""
    from itsm.interpreter.schema import SCHEMAS, editor_schema, overlay_schema

    if out is None and reference is None:
        raise click.UsageError("give --out DIR (JSON Schemas) and/or --reference FILE (Markdown)")
    if reference is not None:
        from itsm.interpreter.reference import reference_markdown

        reference.write_text(reference_markdown(), encoding="utf-8")
        click.echo(f"wrote {reference}")
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, body in {**SCHEMAS, "document": editor_schema(), "overlay": overlay_schema()}.items():
        target = out / f"{kind}.json"
        target.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        written.append(target.name)
    click.echo(f"wrote {len(written)} schemas to {out}: {', '.join(written)}")


# -- runtime commands: they need the database ------------------------------------------------------

def _database() -> Database:
    from itsm.store import Database

    database = Database()
    database.ensure_schema()  # a new embedded SQLite file gets its tables; an old one is brought up to date
    return database


def _engine_errors(fn: Callable[..., None]) -> Callable[..., None]:
    """Engine errors become one clear line and exit status 1, not a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from itsm.engine import EngineError

        try:
            fn(*args, **kwargs)
        except EngineError as exc:
            click.echo(f"error: {exc.message}", err=True)
            for line in map(_detail_line, exc.details):
                if line not in exc.message:  # the message often lists them already
                    click.echo(f"  {line}", err=True)
            sys.exit(1)

    return wrapper


def _detail_line(detail: dict[str, Any]) -> str:
    """A detail of an engine error as people read it: `incident: new: 3 open tickets`, `field: message`."""
    if "open_tickets" in detail:
        count = detail["open_tickets"]
        return f"{detail.get('state')}: {count} open ticket{'s' if count != 1 else ''}"
    if "field" in detail and "message" in detail:
        return f"{detail['field']}: {detail['message']}"
    return ", ".join(f"{key}: {value}" for key, value in detail.items())


@main.command()
@pack_argument
@_engine_errors
def publish(pack: Path) -> None:
    """Validate PACK and make it the active definitions version."""
    from itsm.engine import Definitions

    spec, problems = _load_or_report(pack)
    if spec is None:
        click.echo(f"{pack}: not published: the pack is not valid; the active version keeps serving", err=True)
        sys.exit(1)
    from itsm.engine.definitions import git_commit_of

    result = Definitions(_database()).publish(spec, git_commit=git_commit_of(pack))
    click.echo(result.message)
    for move, count in result.renamed.items():
        click.echo(f"  renamed {move}: {count} ticket{'s' if count != 1 else ''}")


@main.command()
@click.argument("version")
@_engine_errors
def rollback(version: str) -> None:
    """Re-activate an earlier definitions VERSION (a unique prefix of its id)."""
    from itsm.engine import Definitions

    click.echo(Definitions(_database()).rollback(version).message)


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (ITSM_DATABASE_URL, default sqlite:///itsm.db)."""
    from itsm.store import Database

    database = Database()
    database.upgrade()
    click.echo(f"database {database.url.render_as_string(hide_password=True)} is up to date")
    from sqlalchemy import select

    from itsm.store import Ticket
    from itsm.store.search import has_documents

    with database.read() as session:
        unindexed = session.scalar(select(Ticket.id).limit(1)) is not None and not has_documents(session)
    if unindexed:  # tickets from before the search index (migration 0004): index them once
        _reindex(database)


@db.command("reindex")
def db_reindex() -> None:
    """Rebuild the full-text index of every ticket under the active pack's forms (known-error suggestions)."""
    _reindex(_database())


def _reindex(database: Database) -> None:
    from itsm.engine import Engine, EngineError
    from itsm.engine.known_errors import reindex

    try:
        count = reindex(Engine(database))
    except EngineError as exc:  # nothing published yet: nothing to index with
        click.echo(f"search index not rebuilt: {exc.message}")
        return
    click.echo(f"search index: {count} tickets indexed")


@main.group()
def user() -> None:
    """User commands."""


@user.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May publish and see everything.")
@click.option("--vip", is_flag=True, help="A VIP requester (priority raised by the matrix).")
@click.option("--org", help="Organization (customer or client unit).")
@click.option("--password", help="Password for the login form (omit for token-only users).")
@click.option("--email", help="Mail address for notifications.")
@_engine_errors
def user_add(name: str, admin: bool, vip: bool, org: str | None, password: str | None, email: str | None) -> None:
    """Create user NAME."""
    from itsm.engine.users import add_user

    add_user(_database(), name, password=password, email=email, admin=admin, vip=vip, org=org)
    click.echo(f"created user {name}{' (admin)' if admin else ''}")


@main.group()
def token() -> None:
    """API token commands."""


@token.command("create")
@click.argument("name")
@_engine_errors
def token_create(name: str) -> None:
    """Create an API token for user NAME; it is shown once (only its hash is stored)."""
    from itsm.engine.users import create_token

    click.echo(create_token(_database(), name))


@main.command()
@click.option("--interval", default=5.0, show_default=True, help="Seconds between sweeps.")
@click.option("--batch", default=500, show_default=True, help="Tickets per transaction.")
@click.option("--once", is_flag=True, help="Run one sweep and exit (for cron or tests).")
@_engine_errors
def worker(interval: float, batch: int, once: bool) -> None:
    """Fire due SLA warnings and breaches and timed transitions (auto-close).

    Any number of workers may share a PostgreSQL database; run one against SQLite.
    """
    import logging

    from itsm.engine import Engine
    from itsm.engine.worker import run_forever

    engine = Engine(_database())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if once:
        result = engine.sweep(batch)
        click.echo(f"swept: {result.clocks} tickets with due clocks, {result.timers} timed transitions, "
                   f"{result.skipped} timers no longer applicable, {result.failed} failed")
        return
    click.echo(f"worker: sweeping every {interval:g} s (Ctrl-C stops)")
    run_forever(engine, interval, batch)


@main.command("test")
@pack_argument
@click.option("--junit", "junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a JUnit XML report (for CI systems).")
@click.option("-k", "selection", help="Only scenarios whose id contains this text.")
def test_command(pack: Path, junit: Path | None, selection: str | None) -> None:
    """Run the pack's scenarios on a throwaway database with a controllable clock.

    One line per scenario; a failure names the step, its YAML line, and expected and actual values.
    Exit status 1 when a scenario fails (or the pack is invalid).
    """
    import time

    from itsm.engine.scenarios import run_scenario

    spec, _ = _load_or_report(pack)
    if spec is None:
        click.echo(f"{pack}: not tested: the pack is not valid", err=True)
        sys.exit(1)
    started = time.perf_counter()
    results = [run_scenario(spec, s) for sid, s in sorted(spec.scenarios.items())
               if not selection or selection in sid]
    for result in results:
        if result.passed:
            click.echo(f"PASS {result.id} ({result.steps} steps, {result.seconds:.2f}s)")
        else:
            click.echo(f"FAIL {result.id}")
            for failure in result.failures:
                click.echo(f"     {failure}")
    failed = sum(not r.passed for r in results)
    seconds = f"in {time.perf_counter() - started:.2f}s"
    summary = f"{len(results) - failed} passed, {failed} failed {seconds}" if results else f"no scenarios ran {seconds}"
    click.echo(("=" * 10) + f" {summary} " + ("=" * 10))
    if not results:  # a CI job that tests nothing must not look green
        click.echo(f"{pack}: no scenario id contains '{selection}'" if selection and spec.scenarios else
                   f"{pack}: the pack has no scenarios (kind: scenario documents; `itsm init` writes one)", err=True)
    if junit is not None:
        _write_junit(junit, spec.id, results)
    if failed or not results:
        sys.exit(1)


def _write_junit(path: Path, suite: str, results: list[Any]) -> None:
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuite", name=f"itsm.{suite}", tests=str(len(results)),
                      failures=str(sum(not r.passed for r in results)))
    for result in results:
        case = ET.SubElement(root, "testcase", classname=f"itsm.{suite}", name=result.id,
                             time=f"{result.seconds:.3f}")
        for failure in result.failures:
            ET.SubElement(case, "failure", message=failure.message).text = str(failure)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


@main.command()
@click.option("--pack", default=DEFAULT_PACK, show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Pack to publish on start.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--watch", is_flag=True, help="Republish the pack when its files change.")
@click.option("--demo", is_flag=True, help="Create the demo users (password 'demo') if they do not exist.")
@_engine_errors
def serve(pack: Path, host: str, port: int, watch: bool, demo: bool) -> None:
    """Development server: publishes PACK, then serves the pages and the JSON API (production: gunicorn
    'itsm.web:create_app()')."""
    import threading

    from itsm.web import create_app

    spec, _ = _load_or_report(pack)
    if spec is None:
        click.echo(f"{pack}: not served: the pack is not valid", err=True)
        sys.exit(1)
    app = create_app({"PACK": str(pack)})
    if watch:
        from itsm.engine.watch import PackWatcher
        from itsm.web.extension import engine_of, install_watcher

        watcher = PackWatcher(engine_of(app).definitions, pack, report=click.echo)
        install_watcher(app, watcher)
        threading.Thread(target=watcher.run, daemon=True, name="itsm-watch").start()
    if demo:
        from itsm.engine.demo import DEMO_PASSWORD, DEMO_USERS, ensure_demo_users
        from itsm.web.extension import engine_of

        ensure_demo_users(engine_of(app).db)
        click.echo(f"demo users (password '{DEMO_PASSWORD}'):")
        for user in DEMO_USERS:
            click.echo(f"  {user.name:<6} {user.role}")
    click.echo(f"serving pack '{spec.id}' on http://{host}:{port}/ (sign in at /login; JSON API under /api)"
               f"{' (watching for changes)' if watch else ''} (Ctrl-C stops)")
    app.run(host=host, port=port, debug=False, use_reloader=False)


@main.command()
@click.argument("old")
@click.argument("new")
@click.option("--pack", "pack_path", default=DEFAULT_PACK, show_default=True,
              help="With git revisions: the pack's folder in the repository.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
@click.option("--tickets/--no-tickets", default=True, show_default=True,
              help="Count the open tickets each change touches (needs the database).")
def diff(old: str, new: str, pack_path: str, fmt: str, tickets: bool) -> None:
    """Semantic diff of two packs: OLD and NEW are pack folders, or git revisions of --pack
    (itsm diff HEAD~1 HEAD --pack definitions)."""
    import tempfile

    from itsm.interpreter.diff import diff_packs

    with tempfile.TemporaryDirectory(prefix="itsm-diff-") as scratch:
        specs = []
        for label, ref in (("old", old), ("new", new)):
            folder = Path(ref) if Path(ref).is_dir() else _checkout(ref, pack_path, Path(scratch) / label)
            spec, _ = _load_or_report(folder)
            if spec is None:
                click.echo(f"{ref}: the {label} pack is not valid", err=True)
                sys.exit(1)
            specs.append(spec)
    changes = diff_packs(specs[0], specs[1])
    counts: list[int | None] = [None] * len(changes)
    if tickets and changes:
        counts = _ticket_counts(changes)
    if fmt == "markdown":
        click.echo(f"### Definitions diff: {len(changes)} change{'s' if len(changes) != 1 else ''}\n")
        if changes:
            click.echo("| change | what | detail | open tickets |\n|---|---|---|---|")
            for change, count in zip(changes, counts, strict=True):
                detail = change.detail.replace("|", "\\|")
                click.echo(f"| {change.action} {change.kind} | `{change.subject}` | {detail} | "
                           f"{'' if count is None else count} |")
        return
    for change, count in zip(changes, counts, strict=True):
        suffix = "" if count is None else f" ({count} open ticket{'s' if count != 1 else ''})"
        click.echo(change.line() + suffix)
    click.echo(f"{len(changes)} change{'s' if len(changes) != 1 else ''}")


def _checkout(revision: str, pack_path: str, target: Path) -> Path:
    """The pack as it was at a git revision: the repository's tree at that revision, unpacked."""
    import io
    import subprocess
    import tarfile

    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True)
        archive = subprocess.run(["git", "archive", "--format=tar", revision], capture_output=True, check=True,
                                 cwd=top.stdout.strip())
    except (OSError, subprocess.CalledProcessError) as exc:
        raise click.UsageError(f"'{revision}' is neither a pack folder nor a git revision here") from exc
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    root = Path(top.stdout.strip())
    relative = Path(pack_path)
    if relative.is_absolute() or relative.exists():
        if not relative.resolve().is_relative_to(root.resolve()):
            raise click.UsageError(f"--pack '{pack_path}' is outside the git repository at {root}")
        relative = relative.resolve().relative_to(root.resolve())
    if not (target / relative).is_dir():
        raise click.UsageError(f"--pack '{pack_path}' is not a folder at revision '{revision}' "
                               f"(give the pack's folder in the repository with --pack)")
    return target / relative


def _ticket_counts(changes: list[Any]) -> list[int | None]:
    from itsm.engine.impact import open_tickets
    from itsm.store import Database

    database = Database()
    path = database.sqlite_path()
    if (path is not None and not path.exists()) or not _reachable(database):
        return [None] * len(changes)
    return [open_tickets(database, change) for change in changes]


def _reachable(database: Any) -> bool:
    try:
        return bool(database.has_tables())
    except Exception:  # no database here: the diff is still useful without counts
        return False


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--extends", "base", default=DEFAULT_PACK, show_default=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path), help="The base pack.")
def init(directory: Path, base: Path) -> None:
    """Scaffold a client overlay in DIRECTORY: pack.yaml with commented examples, and one scenario."""
    import os
    import re

    from itsm.engine.scaffold import overlay_files

    spec, _ = _load_or_report(base)
    if spec is None:
        click.echo(f"{base}: the base pack is not valid", err=True)
        sys.exit(1)
    if directory.exists() and any(directory.iterdir()):
        raise click.UsageError(f"'{directory}' is not empty")
    ident = re.sub(r"[^a-z0-9_]", "_", directory.resolve().name.lower()).strip("_") or "client"
    if not ident[0].isalpha():
        ident = f"client_{ident}"
    extends = os.path.relpath(base.resolve(), directory.resolve())
    for name, text in overlay_files(spec, ident, extends).items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        click.echo(f"wrote {target}")
    click.echo(f"next: itsm validate {directory} && itsm test {directory}")


def _register_mail_intake() -> None:
    from .mail import mail_intake

    main.add_command(mail_intake)


_register_mail_intake()
