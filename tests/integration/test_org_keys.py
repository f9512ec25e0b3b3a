"""The SQL that names a breakdown's row (`orgs.child_key`) against its reference in Python (`child_on_path`),
on SQLite and PostgreSQL, for every organization under every parent of a small tree (ids with `_`, `.`, `-`)."""

from __future__ import annotations

from sqlalchemy import select

from itsm.store import Database, Organization, orgs

TREE = [("zj", None), ("zj_x", None), ("hz", "zj"), ("hz.1", "hz"), ("xh-2", "hz.1"), ("nb", "zj"), ("a", "zj_x")]


def test_child_key_agrees_with_child_on_path(db: Database) -> None:
    with db.write() as session:
        for org_id, parent in TREE:
            orgs.add(session, org_id, org_id.upper(), parent=parent)
            session.flush()
    with db.read() as session:
        dialect = session.get_bind().dialect.name
        everything = orgs.paths_under(session, None)
        assert set(everything) == {org_id for org_id, _ in TREE}
        for parent_path in [None, *everything.values()]:
            under = orgs.paths_under(session, parent_path)
            assert set(under) == {o for o, path in everything.items() if path.startswith(parent_path or "/")}
            key = orgs.child_key(Organization.path, parent_path, dialect)
            rows = session.execute(select(Organization.id, key).where(Organization.id.in_(list(under))))
            assert {org_id: child for org_id, child in rows} == {
                org_id: orgs.child_on_path(path, parent_path) for org_id, path in under.items()}, parent_path
