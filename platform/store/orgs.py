"""Organizations: the client units of SPEC 14 in a hierarchy, stored with materialized paths.

A unit's `path` lists the ids from the root down to it, each followed by a slash (`/zhejiang/hangzhou/`).
Its subtree is every row whose path starts with its own, one range of an index on both databases
(PostgreSQL's `text_pattern_ops` index serves `LIKE 'prefix%'`; SQLite's `GLOB 'prefix*'` uses the
binary-collated index); its ancestors are read off the path itself. Rules about organizations (which ids
are valid, refusing cycles, what an import may change) are the engine's; these functions take and return
plain values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Select, Table, delete, func, literal, select, text, update
from sqlalchemy.orm import Session

from . import bulk
from .models import Organization, OrganizationDomain, utcnow

ORGS = cast(Table, Organization.__table__)
DOMAINS = cast(Table, OrganizationDomain.__table__)
CHUNK = 5_000  # ids per IN (...): within SQLite's and PostgreSQL's limits on parameters


def path_of(parent_path: str | None, org_id: str) -> str:
    """The path of `org_id` under a parent whose path is `parent_path` (None for a root)."""
    return f"{parent_path or '/'}{org_id}/"


def lineage(path: str) -> tuple[str, ...]:
    """The ids on a path, nearest first: `/zhejiang/hangzhou/` -> ("hangzhou", "zhejiang")."""
    return tuple(reversed(path.strip("/").split("/"))) if path.strip("/") else ()


def lineage_of(session: Session, org_id: str) -> tuple[str, ...]:
    """`org_id` and its ancestors' ids, nearest first; () when there is no such organization."""
    path = session.scalar(select(Organization.path).where(Organization.id == org_id))
    return lineage(path) if path else ()


def paths_of(session: Session, ids: Collection[str]) -> dict[str, str]:
    """The materialized paths of the organizations with these ids, by id (missing ids are left out)."""
    if not ids:
        return {}
    rows = session.execute(select(Organization.id, Organization.path).where(Organization.id.in_(list(ids))))
    return {org_id: path for org_id, path in rows}


def by_id(session: Session, org_id: str) -> Organization | None:
    return session.get(Organization, org_id)


def named(session: Session, ids: Collection[str]) -> dict[str, Organization]:
    """The organizations with these ids, by id (missing ids are left out)."""
    if not ids:
        return {}
    rows = session.scalars(select(Organization).where(Organization.id.in_(list(ids))))
    return {org.id: org for org in rows}


def names_of(session: Session, ids: Collection[str]) -> dict[str, str]:
    """Display names by id, for the ids that exist."""
    if not ids:
        return {}
    rows = session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(list(ids))))
    return {org_id: name for org_id, name in rows}


def ids_by_name(session: Session, names: Collection[str]) -> dict[str, list[str]]:
    """name -> the ids of the organizations called that (names need not be unique: 办公室 is everywhere)."""
    found: dict[str, list[str]] = {}
    if names:
        for org_id, name in session.execute(select(Organization.id, Organization.name)
                                            .where(Organization.name.in_(list(names))).order_by(Organization.id)):
            found.setdefault(name, []).append(org_id)
    return found


def children(session: Session, parent: str | None) -> list[Organization]:
    """The organizations directly under `parent` (the roots for None), by name."""
    condition = Organization.parent.is_(None) if parent is None else Organization.parent == parent
    return list(session.scalars(select(Organization).where(condition).order_by(Organization.name, Organization.id)))


def with_domain(session: Session, domain: str) -> Organization | None:
    """The active organization whose mail domains include `domain`, or None."""
    return session.scalar(select(Organization).join(OrganizationDomain, OrganizationDomain.org == Organization.id)
                          .where(OrganizationDomain.domain == domain.lower()).where(Organization.active.is_(True)))


def domains_of(session: Session, org_id: str) -> list[str]:
    return list(session.scalars(select(OrganizationDomain.domain).where(OrganizationDomain.org == org_id)
                                .order_by(OrganizationDomain.domain)))


def set_domains(session: Session, org_id: str, domains: Iterable[str]) -> None:
    """Replace the mail domains of `org_id` (a domain belongs to one organization: the caller checks)."""
    session.execute(delete(OrganizationDomain).where(OrganizationDomain.org == org_id))
    session.add_all(OrganizationDomain(domain=domain.lower(), org=org_id) for domain in dict.fromkeys(domains))


def prefix_match(column: Any, path: str, dialect: str) -> ColumnElement[bool]:
    """`column` starts with `path` (a materialized path: ids never hold `*`, `?`, `[`, `%` or `\\`)."""
    if dialect == "sqlite":
        return column.op("GLOB")(f"{path}*")
    return column.like(path.replace("_", "\\_") + "%", escape="\\")


def subtree_ids(session: Session, org_id: str) -> Select[str]:
    """A SELECT of the ids of `org_id` and every organization under it (nothing when there is no such
    organization), to be used as `column.in_(subtree_ids(...))`."""
    path = session.scalar(select(Organization.path).where(Organization.id == org_id))
    if path is None:
        return select(Organization.id).where(Organization.id == org_id).where(Organization.path.is_(None))
    return select(Organization.id).where(prefix_match(Organization.path, path, session.get_bind().dialect.name))


def in_subtree(session: Session, column: Any, org_id: str) -> ColumnElement[bool]:
    """A condition: the organization id in `column` lies in `org_id`'s subtree."""
    return column.in_(subtree_ids(session, org_id))


def add(session: Session, org_id: str, name: str, *, parent: str | None = None, domains: Iterable[str] = (),
        vip: bool = False) -> Organization:
    """A new organization under `parent` (which must exist: the caller checks), added to the session."""
    parent_path = session.scalar(select(Organization.path).where(Organization.id == parent)) if parent else None
    org = Organization(id=org_id, name=name, parent=parent, path=path_of(parent_path, org_id), vip=vip, active=True)
    session.add(org)
    set_domains(session, org_id, domains)
    return org


def move(session: Session, org_id: str, parent: str | None) -> None:
    """Put `org_id` (and its subtree) under `parent`; the caller has refused cycles."""
    old = session.scalar(select(Organization.path).where(Organization.id == org_id))
    if old is None:
        return
    parent_path = session.scalar(select(Organization.path).where(Organization.id == parent)) if parent else None
    new = path_of(parent_path, org_id)
    dialect = session.get_bind().dialect.name
    session.execute(update(Organization).where(Organization.id == org_id).values(parent=parent))
    session.execute(update(Organization).where(prefix_match(Organization.path, old, dialect))
                    .values(path=literal(new) + func.substr(Organization.path, len(old) + 1),
                            updated_at=utcnow()))


def contains(column: Any, text: str, dialect: str) -> ColumnElement[bool]:
    """`column` holds `text`, regardless of case (Latin letters; Chinese has none), `%` and `_` matched as
    themselves. SQLite's LIKE ignores ASCII case already (no lower() on every row); PostgreSQL's ILIKE."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    if dialect == "sqlite":
        return column.like(pattern, escape="\\")
    return column.ilike(pattern, escape="\\")


def find(session: Session, *, text: str | None = None, parent: str | None = None, roots: bool = False,
         active: bool | None = None, after: str | None = None, limit: int = 50) -> list[Organization]:
    """Organizations in the order of the tree (by path: a province, then its cities...), at most `limit` of
    them after the path `after`: those whose id or name contains `text` (regardless of case), directly
    under `parent` (or the roots), active or not."""
    dialect = session.get_bind().dialect.name
    # byte order on both databases (PostgreSQL's collation would sort `/a_b/` and `/ab/` apart from the tree)
    path = Organization.path.collate("C") if dialect == "postgresql" else Organization.path
    query = select(Organization)
    if text:
        query = query.where(contains(Organization.id, text, dialect) | contains(Organization.name, text, dialect))
    if roots:
        query = query.where(Organization.parent.is_(None))
    elif parent is not None:
        query = query.where(Organization.parent == parent)
    if active is not None:
        query = query.where(Organization.active.is_(active))
    if after is not None:
        query = query.where(path > after)
    return list(session.scalars(query.order_by(path).limit(limit)))


def child_counts(session: Session, ids: Collection[str]) -> dict[str, int]:
    """How many organizations sit directly under each of `ids` (those with none are left out)."""
    if not ids:
        return {}
    rows = session.execute(select(Organization.parent, func.count()).where(Organization.parent.in_(list(ids)))
                           .group_by(Organization.parent))
    return {str(parent): count for parent, count in rows}


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Organization)) or 0)


def set_values(session: Session, org_id: str, values: dict[str, Any]) -> None:
    """Set columns (`name`, `vip`, `active`) of `org_id`; `updated_at` follows."""
    session.execute(update(Organization).where(Organization.id == org_id).values(**values, updated_at=utcnow()))


def domain_owners(session: Session, domains: Collection[str]) -> dict[str, str]:
    """The organization holding each of `domains` (lower case) that some organization holds."""
    if not domains:
        return {}
    rows = session.execute(select(OrganizationDomain.domain, OrganizationDomain.org)
                           .where(OrganizationDomain.domain.in_([d.lower() for d in domains])))
    return {domain: org for domain, org in rows}


def child_key(path: Any, parent_path: str | None, dialect: str) -> Any:
    """SQL for `child_on_path` over a column of paths in the subtree at `parent_path` (every path without):
    the id after the parent's on the path, "" for the parent itself, NULL for a NULL path."""
    rest = func.substr(path, len(parent_path or "/") + 1)
    if dialect == "sqlite":
        return func.substr(rest, 1, func.instr(rest, "/") - 1)
    return func.split_part(rest, "/", 1)


def paths_under(session: Session, parent_path: str | None) -> dict[str, str]:
    """The paths of every organization in the subtree at `parent_path` (of all, for None), by id: one range of
    the path index, cheaper than naming thousands of ids."""
    query = select(Organization.id, Organization.path)
    if parent_path is not None:
        query = query.where(prefix_match(Organization.path, parent_path, session.get_bind().dialect.name))
    return {org_id: path for org_id, path in session.execute(query)}


def child_on_path(path: str, parent_path: str | None) -> str | None:
    """The id of the organization directly under the one at `parent_path` (the root for None) whose subtree
    holds the organization at `path`; "" when `path` is `parent_path` itself; None when it lies elsewhere."""
    prefix = parent_path or "/"
    if not path.startswith(prefix):
        return None
    return path[len(prefix):].split("/", 1)[0]


def lock(session: Session, ids: Collection[str]) -> None:
    """Hold the rows of `ids` until the transaction ends (PostgreSQL; SQLite has one writer already), in the
    order of their ids, so two moves that each read the other's place wait rather than make a cycle."""
    if ids:
        session.execute(select(Organization.id).where(Organization.id.in_(sorted(ids)))
                        .order_by(Organization.id).with_for_update())


def longest_path_under(session: Session, path: str) -> int:
    """The length of the longest path in the subtree at `path` (0 when there is none)."""
    dialect = session.get_bind().dialect.name
    return int(session.scalar(select(func.max(func.length(Organization.path)))
                              .where(prefix_match(Organization.path, path, dialect))) or 0)


def domain_rows(session: Session, ids: Collection[str]) -> list[tuple[str, str]]:
    """(domain, organization) for every mail domain of the organizations among `ids`."""
    if not ids:
        return []
    rows = session.execute(select(OrganizationDomain.domain, OrganizationDomain.org)
                           .where(OrganizationDomain.org.in_(list(ids))))
    return [(domain, org) for domain, org in rows]
# -- many at once: imports (`itsm org import`) ---------------------------------------------------------------

def lock_tree(session: Session) -> None:
    """Keep other writers of organizations waiting until this transaction ends, so a tree read and checked
    for cycles is still the tree when written (SQLite's write transactions take the lock already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE organizations IN SHARE ROW EXCLUSIVE MODE"))


def all_rows(session: Session) -> Sequence[Row[Any, Any, Any, Any, Any]]:
    """Every organization's id, name, parent, path and vip flag (11,000 are a few hundred kilobytes)."""
    return session.execute(select(ORGS.c.id, ORGS.c.name, ORGS.c.parent, ORGS.c.path, ORGS.c.vip)).all()


def all_ids(session: Session) -> set[str]:
    return set(session.scalars(select(ORGS.c.id)))


def all_domains(session: Session) -> dict[str, str]:
    """Every mail domain -> its organization's id."""
    return {domain: org for domain, org in session.execute(select(DOMAINS.c.domain, DOMAINS.c.org))}


def insert_many(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """New organizations, each a mapping of every column (`bulk.insert_rows`)."""
    return bulk.insert_rows(session.connection(), ORGS, rows)


def update_many(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Organizations changed: each mapping holds `b_id` and the same columns to set (`bulk.update_rows`)."""
    return bulk.update_rows(session.connection(), ORGS, ("id",), rows)


def replace_domains(session: Session, domains: Mapping[str, Sequence[str]]) -> None:
    """Each organization of `domains` gets exactly the (lower-case) domains listed for it; the caller has
    made sure no domain ends up with two organizations."""
    connection = session.connection()
    ids = list(domains)
    for start in range(0, len(ids), CHUNK):
        connection.execute(delete(DOMAINS).where(DOMAINS.c.org.in_(ids[start:start + CHUNK])))
    bulk.insert_rows(connection, DOMAINS, [{"domain": domain, "org": org_id}
                                           for org_id, listed in domains.items() for domain in listed])
