"""Organizations: the client units of SPEC 14 in a hierarchy, stored with materialized paths.

A unit's `path` lists the ids from the root down to it, each followed by a slash (`/zhejiang/hangzhou/`).
Its subtree is every row whose path starts with its own, one range of an index on both databases
(PostgreSQL's `text_pattern_ops` index serves `LIKE 'prefix%'`; SQLite's `GLOB 'prefix*'` uses the
binary-collated index); its ancestors are read off the path itself. Rules about organizations (which ids
are valid, refusing cycles, what an import may change) are the engine's; these functions take and return
plain values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, literal, select, update
from sqlalchemy.orm import Session

from .models import Organization, OrganizationDomain, utcnow


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
