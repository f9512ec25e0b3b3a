"""Commands for people: users, organizations and API tokens (SPEC 9, 11, 14)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from itsm.engine.people.orgs import ImportSummary

from .common import _database, _engine_errors


@click.group()
def user() -> None:
    """User commands."""


@user.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May publish and see everything.")
@click.option("--vip", is_flag=True, help="A VIP requester (priority raised by the matrix).")
@click.option("--org", help="Organization id (an existing one: itsm org import creates them).")
@click.option("--org-contact", is_flag=True, help="The organization's contact: sees the tickets of its subtree.")
@click.option("--full-name", help="Name as people call the user, e.g. 王芳.")
@click.option("--password", help="Password for the login form (omit for token-only users).")
@click.option("--email", help="Mail address for notifications.")
@click.option("--locale", help="Language of the pages: zh-CN or en (default: the browser's).")
@click.option("--timezone", help="IANA time zone the pages show times in, e.g. Asia/Shanghai (default: the pack's).")
@_engine_errors
def user_add(name: str, admin: bool, vip: bool, org: str | None, org_contact: bool, full_name: str | None,
             password: str | None, email: str | None, locale: str | None, timezone: str | None) -> None:
    """Create user NAME."""
    from itsm.engine.people.users import add_user

    add_user(_database(), name, password=password, email=email, admin=admin, vip=vip, org=org, locale=locale,
             timezone=timezone, full_name=full_name, org_contact=org_contact)
    click.echo(f"created user {name}{' (admin)' if admin else ''}")


_IMPORT_FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
_DRY_RUN = click.option("--dry-run", is_flag=True, help="Check the file and say what would change; write nothing.")


@user.command("import")
@_IMPORT_FILE
@_DRY_RUN
@_engine_errors
def user_import(file: Path, dry_run: bool) -> None:
    """Create or update users from FILE: CSV with the header name,email,org,full_name,locale,vip,admin,org_contact
    (UTF-8), or JSON lines (.jsonl). One transaction: a bad row is reported as FILE:LINE and nothing is written.
    Passwords are not imported."""
    from itsm.engine.people.user_import import import_users

    _imported("users", _run_import(import_users, file, dry_run))


@click.group()
def org() -> None:
    """Organization commands (SPEC 14)."""


@org.command("import")
@_IMPORT_FILE
@_DRY_RUN
@_engine_errors
def org_import(file: Path, dry_run: bool) -> None:
    """Create or update organizations from FILE: CSV with the header id,name,parent,domains[,vip] (UTF-8), or
    JSON lines (.jsonl); parents in any order. One transaction: a bad row is reported as FILE:LINE and
    nothing is written; moving an organization moves everything under it."""
    from itsm.engine.people.orgs import import_orgs

    _imported("organizations", _run_import(import_orgs, file, dry_run))


def _run_import(run: Any, file: Path, dry_run: bool) -> ImportSummary:
    from itsm.engine.people.import_files import ImportRefused

    try:
        return run(_database(), file, source=str(file), dry_run=dry_run)
    except ImportRefused as refused:
        for line in refused.lines():
            click.echo(line, err=True)
        click.echo(f"error: {refused.message}", err=True)
        sys.exit(1)


def _imported(what: str, summary: ImportSummary) -> None:
    verb = ("would be " if not summary.written else "")
    line = (f"{what}: {summary.created} {verb}created, {summary.updated} {verb}updated, "
            f"{summary.unchanged} unchanged")
    if summary.moved:
        line += f"; {summary.moved} moved, with {summary.carried} more under them"
    click.echo(line + (" (dry run: nothing written)" if not summary.written else ""))


@click.group()
def token() -> None:
    """API token commands."""


@token.command("create")
@click.argument("name")
@_engine_errors
def token_create(name: str) -> None:
    """Create an API token for user NAME; it is shown once (only its hash is stored)."""
    from itsm.engine.people.users import create_token

    click.echo(create_token(_database(), name))
