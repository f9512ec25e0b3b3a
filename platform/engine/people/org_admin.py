"""Organizations as admins manage them (SPEC 14; `/api/orgs` of SPEC 10 and the admin pages): ids, names,
parents and mail domains checked, cycles refused, the subtree moved with its unit.

Rules about a disabled organization (docs/decisions.md, "Disabling users and organizations"): it stays in
the tree, on its tickets and in the figures; it is not offered as the organization of a user nor as the
parent of an organization, and its mail domains no longer make users; its users keep signing in (disabling
people is a decision per person).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from itsm.store import Database, Organization
from itsm.store import orgs as stored
from itsm.store import users as stored_users

from ..errors import N_, Conflict, NotFound, ValidationFailed, field_problems
from .users import is_mail_domain

if TYPE_CHECKING:
    from itsm.store.database import Session

ORG_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")  # SPEC 14
MAX_ORG_ID, MAX_ORG_NAME, MAX_PATH, MAX_DOMAINS = 100, 200, 2000, 50
EDITABLE = ("name", "parent", "domains", "vip", "active")


@dataclass(frozen=True)
class OrgPage:
    """One page of organizations found: the items as the API shows them, and the path to continue after."""

    items: list[dict[str, Any]]
    after: str | None


def refused(problems: Sequence[Mapping[str, Any]]) -> ValidationFailed:
    """One 422 for every problem of a request: details `{field, message}` (SPEC 10)."""
    details = [dict(p) for p in problems]
    return ValidationFailed(field_problems(details), details)


def org_id_problem(org_id: str) -> str | None:
    if not ORG_ID.fullmatch(org_id):
        return N_("'%(id)s' is not an organization id: lower-case letters, digits and . _ - starting with a letter "
                  "or digit", id=org_id[:80])
    if len(org_id) > MAX_ORG_ID:
        return N_("an organization id has at most %(most)s characters", most=MAX_ORG_ID)
    return None


def name_problem(name: str, most: int) -> str | None:
    if not name.strip():
        return N_("must not be empty")
    if len(name) > most:
        return N_("at most %(most)s characters", most=most)
    if not name.isprintable():
        return N_("holds a control character")
    return None


def clean_domains(domains: Sequence[str], problems: list[dict[str, Any]]) -> list[str]:
    """The domains in lower case without repeats; a problem for each one that is not a mail domain."""
    cleaned = list(dict.fromkeys(d.strip().lower().lstrip("@") for d in domains))
    if len(cleaned) > MAX_DOMAINS:
        problems.append({"field": "domains", "message": N_("at most %(most)s domains", most=MAX_DOMAINS)})
    for domain in cleaned:
        if not is_mail_domain(domain):
            problems.append({"field": "domains", "message": N_(
                "'%(domain)s' is not a mail domain (for example hz.gov.cn)", domain=domain[:80])})
    return cleaned


def view(org: Organization, domains: Sequence[str], children: int, users: int) -> dict[str, Any]:
    """An organization as the API shows it; `path` lists the ids from the root down to it."""
    return {"id": org.id, "name": org.name, "parent": org.parent, "path": list(reversed(stored.lineage(org.path))),
            "domains": list(domains), "vip": bool(org.vip), "active": bool(org.active), "children": children,
            "users": users, "created_at": org.created_at.isoformat(), "updated_at": org.updated_at.isoformat()}


def _views(session: Session, found: Sequence[Organization]) -> list[dict[str, Any]]:
    ids = [org.id for org in found]
    children = stored.child_counts(session, ids)
    users = stored_users.counts_by_org(session, ids)
    domains: dict[str, list[str]] = {}
    for domain, org in sorted(stored.domain_rows(session, ids)):
        domains.setdefault(org, []).append(domain)
    return [view(org, domains.get(org.id, []), children.get(org.id, 0), users.get(org.id, 0)) for org in found]


def find_orgs(db: Database, *, text: str | None = None, parent: str | None = None, roots: bool = False,
              active: bool | None = None, after: str | None = None, limit: int = 50) -> OrgPage:
    """Organizations in the tree's order, `limit` at a time (`after`: the `after` of the page before)."""
    with db.read() as session:
        found = stored.find(session, text=(text or "").strip() or None, parent=parent, roots=roots, active=active,
                            after=after, limit=limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return OrgPage(_views(session, found), found[-1].path if more else None)


def get_org(db: Database, org_id: str) -> dict[str, Any]:
    with db.read() as session:
        org = stored.by_id(session, org_id)
        if org is None:
            raise NotFound(N_("no organization '%(org)s'", org=org_id))
        return _views(session, [org])[0]


def lineage_of(db: Database, org_id: str) -> list[tuple[str, str]]:
    """(id, name) from the root down to `org_id` (empty when there is no such organization): breadcrumbs."""
    with db.read() as session:
        org = stored.by_id(session, org_id)
        if org is None:
            return []
        ids = list(reversed(stored.lineage(org.path)))
        names = stored.names_of(session, ids)
    return [(i, names.get(i, i)) for i in ids]


def org_names(db: Database, ids: Collection[str]) -> dict[str, str]:
    """The names of the organizations among `ids` that exist, by id."""
    with db.read() as session:
        return stored.names_of(session, ids)


def create_org(db: Database, values: Mapping[str, Any]) -> dict[str, Any]:
    """A new organization from `values` (`id`, `name`, optional `parent`, `domains`, `vip`, `active`)."""
    org_id, name = str(values.get("id") or ""), str(values.get("name") or "")
    parent = values.get("parent") or None
    problems: list[dict[str, Any]] = []
    for field, problem in (("id", org_id_problem(org_id)), ("name", name_problem(name, MAX_ORG_NAME))):
        if problem:
            problems.append({"field": field, "message": problem})
    domains = clean_domains(values.get("domains") or [], problems)
    if problems:
        raise refused(problems)
    with db.write() as session:
        if parent is not None:
            stored.lock(session, [parent])
        if stored.by_id(session, org_id) is not None:
            raise Conflict(N_("organization '%(org)s' exists already", org=org_id))
        parent_path = _parent_path(session, parent, problems)
        if parent_path is not None and len(stored.path_of(parent_path, org_id)) > MAX_PATH:
            problems.append({"field": "parent", "message": N_("the tree would be too deep here")})
        if problems:
            raise refused(problems)
        _check_domains_free(session, org_id, domains)
        org = stored.add(session, org_id, name.strip(), parent=parent, domains=domains, vip=bool(values.get("vip")))
        if values.get("active") is False:
            org.active = False
        session.flush()
        return _views(session, [org])[0]


def update_org(db: Database, org_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change what `changes` names (name, parent, domains, vip, active); a move takes the subtree along and is
    refused when the new parent lies in the organization's own subtree."""
    problems: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    if "name" in changes:
        problem = name_problem(str(changes["name"] or ""), MAX_ORG_NAME)
        if problem:
            problems.append({"field": "name", "message": problem})
        values["name"] = str(changes["name"] or "").strip()
    for flag in ("vip", "active"):
        if changes.get(flag) is not None:
            values[flag] = bool(changes[flag])
    domains = clean_domains(changes["domains"] or [], problems) if "domains" in changes else None
    if problems:
        raise refused(problems)
    with db.write() as session:
        org = stored.by_id(session, org_id)
        if org is None:
            raise NotFound(N_("no organization '%(org)s'", org=org_id))
        if "parent" in changes and (changes["parent"] or None) != org.parent:
            _move(session, org, changes["parent"] or None)
        if domains is not None:
            _check_domains_free(session, org_id, domains)
            stored.set_domains(session, org_id, domains)
        if values:
            stored.set_values(session, org_id, values)
        session.expire_all()
        updated = stored.by_id(session, org_id)
        assert updated is not None
        return _views(session, [updated])[0]


def _move(session: Session, org: Organization, parent: str | None) -> None:
    problems: list[dict[str, Any]] = []
    if parent is not None:
        target = stored.by_id(session, parent)
        stored.lock(session, {org.id, parent, *(stored.lineage(target.path) if target else ())})
        session.expire_all()
    parent_path = _parent_path(session, parent, problems)
    current = stored.by_id(session, org.id)
    assert current is not None
    if parent_path is not None and parent_path.startswith(current.path):
        problems.append({"field": "parent", "message": N_(
            "'%(parent)s' lies under '%(org)s': an organization cannot be moved under itself",
            parent=parent, org=org.id)})
    elif stored.longest_path_under(session, current.path) - len(current.path) + len(
            stored.path_of(parent_path, org.id)) > MAX_PATH:
        problems.append({"field": "parent", "message": N_("the tree would be too deep here")})
    if problems:
        raise refused(problems)
    stored.move(session, org.id, parent)


def _parent_path(session: Session, parent: str | None, problems: list[dict[str, Any]]) -> str | None:
    """The path of `parent` (None for no parent); a problem when it does not exist or is disabled."""
    if parent is None:
        return None
    found = stored.by_id(session, parent)
    if found is None:
        problems.append({"field": "parent", "message": N_("no organization '%(org)s'", org=parent)})
        return None
    if not found.active:
        problems.append({"field": "parent", "message": N_("organization '%(org)s' is disabled", org=parent)})
    return found.path


def _check_domains_free(session: Session, org_id: str, domains: Sequence[str]) -> None:
    """A mail domain belongs to one organization: 409 naming the one that has it."""
    taken = {d: o for d, o in stored.domain_owners(session, domains).items() if o != org_id}
    if taken:
        domain, owner = sorted(taken.items())[0]
        raise Conflict(N_("mail domain '%(domain)s' belongs to organization '%(org)s'", domain=domain, org=owner),
                       [{"field": "domains", "message": N_("'%(domain)s' belongs to '%(org)s'", domain=d, org=o)}
                        for d, o in sorted(taken.items())])


def check_member_org(session: Session, org_id: str) -> str | None:
    """Why a user cannot be placed in `org_id` (it does not exist, or is disabled), or None."""
    found = stored.by_id(session, org_id)
    if found is None:
        return N_("no organization '%(org)s'", org=org_id)
    if not found.active:
        return N_("organization '%(org)s' is disabled", org=org_id)
    return None
