"""What every `itsm` command shares: the group, the pack argument, the database, one-line errors."""

from __future__ import annotations

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
