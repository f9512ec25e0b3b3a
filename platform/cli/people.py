"""Commands for people: users and API tokens (SPEC 9, 11)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass

from .common import _database, _engine_errors


@click.group()
def user() -> None:
    """User commands."""


@user.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May publish and see everything.")
@click.option("--vip", is_flag=True, help="A VIP requester (priority raised by the matrix).")
@click.option("--org", help="Organization (customer or client unit).")
@click.option("--password", help="Password for the login form (omit for token-only users).")
@click.option("--email", help="Mail address for notifications.")
@click.option("--locale", help="Language of the pages: zh-CN or en (default: the browser's).")
@click.option("--timezone", help="IANA time zone the pages show times in, e.g. Asia/Shanghai (default: the pack's).")
@click.option("--org-contact", is_flag=True, help="Sees the tickets of the organization and of those under it.")
@_engine_errors
def user_add(name: str, admin: bool, vip: bool, org: str | None, password: str | None, email: str | None,
             locale: str | None, timezone: str | None, org_contact: bool) -> None:
    """Create user NAME."""
    from itsm.engine.people.users import add_user

    add_user(_database(), name, password=password, email=email, admin=admin, vip=vip, org=org, locale=locale,
             timezone=timezone, org_contact=org_contact)
    click.echo(f"created user {name}{' (admin)' if admin else ''}")


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
