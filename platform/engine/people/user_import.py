"""`itsm user import` (SPEC 14): many users from a file, checked as `itsm user add` checks one.

Each value is checked as `add_user` checks it (the name, the mail address, the language tag) and the
organization must be stored (import organizations first). A column the file leaves out leaves that value of
an existing user as it is; an empty cell clears it (a flag: no). Passwords are not imported: people sign in
through LDAP or OpenID Connect, or an administrator sets a password (docs/decisions.md, "Importing
organizations and users"). Planned without I/O (`plan_user_import`), written in one transaction with bulk
statements; any problem: nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from itsm.store import Database
from itsm.store import orgs as stored_orgs
from itsm.store import users as stored
from itsm.store.models import utcnow

from ..errors import N_, BadRequest, Text
from .import_files import BadValue, ImportFile, ImportRefused, Problem, Row, flag_value, read_import, text_value
from .orgs import ImportSummary
from .users import check_email, check_full_name, check_locale, check_user_name

USER_COLUMNS = ("name", "email", "org", "full_name", "locale", "vip", "admin", "org_contact")
_STORED_AS = {"admin": "is_admin"}  # file column -> users column, where they differ
FLAGS = ("vip", "admin", "org_contact")
REFUSED: dict[str, Text] = {
    "password": N_("passwords are not imported: people sign in through LDAP or OpenID Connect, or an "
                   "administrator sets a password (itsm user add, the admin pages)"),
    "password_hash": N_("passwords are not imported: people sign in through LDAP or OpenID Connect, or an "
                        "administrator sets a password (itsm user add, the admin pages)"),
}


@dataclass
class UserImport:
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)  # each with `b_id` and the columns to set
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)


def plan_user_import(rows: Sequence[Row], existing: Mapping[str, Any], org_ids: set[str],
                     now: datetime) -> UserImport:
    """The import of `rows` over the stored users (`existing` by name: rows with `id` and the columns of
    `store.users.IMPORTED`) and organizations (`org_ids`): its writes, or its problems."""
    result = UserImport()
    lines: dict[str, int] = {}  # the line each name is first on, good row or not
    for row in rows:
        values = _values(row, org_ids, result.problems)
        name = row.values.get("name")
        if isinstance(name, str) and name.strip() in lines:
            result.problems.append(Problem(row.line, N_("user '%(name)s' is on line %(line)s already",
                                                        name=name.strip(), line=lines[name.strip()])))
            continue
        if isinstance(name, str) and name.strip():
            lines[name.strip()] = row.line
        if values is None:
            continue
        name = values.pop("name")
        old = existing.get(name)
        org = values.get("org", old.org if old is not None else None)
        contact = values.get("org_contact", bool(old.org_contact) if old is not None else False)
        if contact and org is None:
            result.problems.append(Problem(row.line, N_("user '%(name)s' is an organization's contact "
                                                        "(org_contact) without an organization (org)", name=name)))
            continue
        if old is None:
            result.created.append({"name": name, "email": None, "org": None, "full_name": None, "locale": None,
                                   "vip": False, "is_admin": False, "org_contact": False, **values,
                                   "password_hash": None, "timezone": None, "active": True, "created_at": now})
        elif any(getattr(old, column) != value for column, value in values.items()):
            result.updated.append({"b_id": old.id, **values})
        else:
            result.unchanged += 1
    return result


def _values(row: Row, org_ids: set[str], problems: list[Problem]) -> dict[str, Any] | None:
    """The row's values by users column, or None after adding its problems (one per bad value)."""
    values: dict[str, Any] = {}
    bad = False

    def take(column: str, read: Callable[[], Any]) -> None:
        nonlocal bad
        if column not in row.values:
            return
        try:
            values[_STORED_AS.get(column, column)] = read()
        except (BadRequest, BadValue) as exc:
            problems.append(Problem(row.line, exc.message))
            bad = True

    take("name", lambda: _name(text_value(row, "name")))
    take("email", lambda: _checked(text_value(row, "email"), check_email))
    take("org", lambda: _org(text_value(row, "org"), org_ids))
    take("full_name", lambda: _checked(text_value(row, "full_name"), check_full_name))
    take("locale", lambda: _optional(text_value(row, "locale"), check_locale))
    for flag in FLAGS:
        take(flag, lambda flag=flag: flag_value(row, flag))  # type: ignore[misc]
    return None if bad else values


def _name(name: str | None) -> str:
    if name is None:
        raise BadRequest(N_("a user needs a name"))
    check_user_name(name)
    return name


def _checked(value: str | None, check: Callable[[str], None]) -> str | None:
    if value is not None:
        check(value)
    return value


def _optional(value: str | None, convert: Callable[[str], str]) -> str | None:
    return convert(value) if value is not None else None


def _org(org: str | None, org_ids: set[str]) -> str | None:
    if org is not None and org not in org_ids:
        raise BadRequest(N_("no organization '%(org)s' (import the organizations first: itsm org import)",
                            org=org))
    return org


def import_users(db: Database, path: Path, *, source: str | None = None, dry_run: bool = False) -> ImportSummary:
    """Create or update the users of the file at `path` in one transaction; ImportRefused (every problem,
    by line) and nothing written when any row is wrong."""
    found = read_import(path, USER_COLUMNS, ("name",), REFUSED)
    return apply_user_rows(db, found, source or str(path), dry_run=dry_run)


def apply_user_rows(db: Database, found: ImportFile, source: str, *, dry_run: bool = False) -> ImportSummary:
    if found.problems:
        raise ImportRefused(source, found.problems)
    with db.write() as session:
        planned = plan_user_import(found.rows, stored.all_for_import(session), stored_orgs.all_ids(session),
                                   utcnow())
        if planned.problems:
            raise ImportRefused(source, planned.problems)
        if not dry_run:
            stored.insert_many(session, planned.created)
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for change in planned.updated:  # rows of JSON files may give different columns
                by_columns.setdefault(tuple(sorted(change)), []).append(change)
            for changes in by_columns.values():
                stored.update_many(session, changes)
    return ImportSummary(len(planned.created), len(planned.updated), planned.unchanged, written=not dry_run)
