"""Users as admins manage them (SPEC 14; `/api/users` of SPEC 10 and the admin pages): find among 100,000,
create, edit, disable and enable, make admin or an organization's contact, reset a password.

Every value is checked as `itsm user add` checks it, and all problems of a request are told at once (422,
one detail per field). An admin cannot disable themselves nor take away their own admin flag, so a desk
always keeps an admin who can undo a mistake.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from itsm.store import Database, User
from itsm.store import orgs as stored_orgs
from itsm.store import users as stored

from ..errors import N_, BadRequest, Conflict, NotFound
from .org_admin import check_member_org, name_problem, refused
from .timezones import check_timezone
from .users import check_email, check_locale, check_user_name, hash_password

if TYPE_CHECKING:
    from itsm.store.database import Session

MIN_PASSWORD, MAX_PASSWORD, MAX_FULL_NAME = 8, 1024, 200
TEXTS = ("email", "full_name", "org", "locale", "timezone")  # null or "" clears them
FLAGS = {"vip": "vip", "admin": "is_admin", "org_contact": "org_contact", "active": "active"}


@dataclass(frozen=True)
class UserPage:
    """One page of users found: the items as the API shows them, and the name to continue after."""

    items: list[dict[str, Any]]
    after: str | None


def view(user: User, org_name: str | None) -> dict[str, Any]:
    """A user as the API shows them (never a password hash: only whether they have a password)."""
    return {"name": user.name, "email": user.email, "full_name": user.full_name, "org": user.org,
            "org_name": org_name, "locale": user.locale, "timezone": user.timezone, "vip": bool(user.vip),
            "admin": bool(user.is_admin), "org_contact": bool(user.org_contact), "active": bool(user.active),
            "has_password": bool(user.password_hash), "created_at": user.created_at.isoformat()}


def _views(session: Session, found: list[User]) -> list[dict[str, Any]]:
    names = stored_orgs.names_of(session, {u.org for u in found if u.org})
    return [view(user, names.get(user.org) if user.org else None) for user in found]


def find_users(db: Database, *, text: str | None = None, org: str | None = None, active: bool | None = None,
               admin: bool | None = None, org_contact: bool | None = None, after: str | None = None,
               limit: int = 50) -> UserPage:
    """Users by name, `limit` at a time: `text` in the name, full name or mail address; `org`: members of
    that organization's subtree."""
    with db.read() as session:
        org_ids = None
        if org is not None:
            if stored_orgs.by_id(session, org) is None:
                raise BadRequest(N_("no organization '%(org)s'", org=org),
                                 [{"field": "org", "message": N_("unknown organization")}])
            org_ids = stored_orgs.subtree_ids(session, org)
        found = stored.find(session, text=(text or "").strip() or None, org_ids=org_ids, active=active, admin=admin,
                            org_contact=org_contact, after=after, limit=limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return UserPage(_views(session, found), found[-1].name if more else None)


def get_user(db: Database, name: str) -> dict[str, Any]:
    with db.read() as session:
        user = stored.by_name(session, name)
        if user is None:
            raise NotFound(N_("no user '%(user)s'", user=name))
        return _views(session, [user])[0]


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _checked(values: Mapping[str, Any], problems: list[dict[str, Any]]) -> dict[str, Any]:
    """The columns `values` sets, each checked; a problem per field that is wrong."""
    columns: dict[str, Any] = {}
    checks: dict[str, Callable[[str], Any]] = {"email": check_email, "locale": check_locale,
                                               "timezone": check_timezone}
    for field in TEXTS:
        if field not in values:
            continue
        value = _text(values[field])
        if value is not None and field in checks:
            try:
                value = checks[field](value) or value
            except BadRequest as exc:
                problems.append({"field": field, "message": exc.message})
        elif value is not None and field == "full_name":
            problem = name_problem(value, MAX_FULL_NAME)
            if problem:
                problems.append({"field": field, "message": problem})
        columns[field] = value
    for field, column in FLAGS.items():
        if values.get(field) is not None:
            columns[column] = bool(values[field])
    password = values.get("password")
    if password is not None:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            problems.append({"field": "password", "message": N_(
                "a password has %(least)s to %(most)s characters", least=MIN_PASSWORD, most=MAX_PASSWORD)})
        else:
            columns["password_hash"] = hash_password(password)
    return columns


def _check_org(session: Session, columns: dict[str, Any], current: User | None,
               problems: list[dict[str, Any]]) -> None:
    org = columns.get("org", current.org if current else None)
    if "org" in columns and org is not None and (current is None or org != current.org):
        problem = check_member_org(session, org)
        if problem:
            problems.append({"field": "org", "message": problem})
    contact = columns.get("org_contact", current.org_contact if current else False)
    if contact and org is None:
        problems.append({"field": "org_contact", "message": N_("an organization's contact needs an organization")})


def create_user(db: Database, values: Mapping[str, Any]) -> dict[str, Any]:
    """A new user from `values` (`name` and any of the editable fields, `password` included)."""
    name = str(values.get("name") or "")
    problems: list[dict[str, Any]] = []
    try:
        check_user_name(name)
    except BadRequest as exc:
        problems.append({"field": "name", "message": exc.message})
    columns = _checked(values, problems)
    with db.write() as session:
        _check_org(session, columns, None, problems)
        if problems:
            raise refused(problems)
        if stored.exists(session, name):
            raise Conflict(N_("user '%(name)s' exists already", name=name))
        user = stored.add(session, name, email=columns.get("email"), password_hash=columns.get("password_hash"),
                          is_admin=columns.get("is_admin", False), vip=columns.get("vip", False),
                          org=columns.get("org"), timezone=columns.get("timezone"), locale=columns.get("locale"),
                          full_name=columns.get("full_name"), org_contact=columns.get("org_contact", False),
                          active=columns.get("active", True))
        session.flush()
        return _views(session, [user])[0]


def update_user(db: Database, actor: str, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change what `changes` names; `actor` (the admin doing it) may not disable nor demote themselves."""
    problems: list[dict[str, Any]] = []
    columns = _checked(changes, problems)
    with db.write() as session:
        user = stored.by_name(session, name)
        if user is None:
            raise NotFound(N_("no user '%(user)s'", user=name))
        _check_org(session, columns, user, problems)
        if problems:
            raise refused(problems)
        if name == actor and columns.get("active") is False:
            raise Conflict(N_("you cannot disable your own account: ask another administrator"),
                           [{"field": "active", "message": N_("your own account")}])
        if name == actor and columns.get("is_admin") is False:
            raise Conflict(N_("you cannot take away your own admin rights: ask another administrator"),
                           [{"field": "admin", "message": N_("your own account")}])
        if columns:
            stored.set_values(session, name, columns)
        session.expire_all()
        updated = stored.by_name(session, name)
        assert updated is not None
        return _views(session, [updated])[0]


def reset_password(db: Database, actor: str, name: str) -> str:
    """A new random password for `name`, to be handed over once; their sessions end (the stamp changes)."""
    password = secrets.token_urlsafe(12)
    update_user(db, actor, name, {"password": password})
    return password

