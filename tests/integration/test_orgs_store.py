"""Organizations in the store (SPEC 14) on SQLite and PostgreSQL: paths, subtrees, moves, mail domains, and
migration 0008 turning the free-text `users.org` of earlier releases into organizations."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select, text

from itsm.engine import Engine
from itsm.store import Database, Ticket, orgs, users
from itsm.store.migrate import alembic_config, upgrade


def province(db: Database) -> None:
    with db.write() as session:
        orgs.add(session, "zhejiang", "浙江省")
        orgs.add(session, "jiangsu", "江苏省")
    with db.write() as session:
        orgs.add(session, "hangzhou", "杭州市", parent="zhejiang", domains=["HZ.gov.cn"])
        orgs.add(session, "zhejiang_x", "浙江省X", parent="jiangsu")  # an id that starts like another's
    with db.write() as session:
        orgs.add(session, "xihu", "西湖区", parent="hangzhou")


def subtree(db: Database, org_id: str) -> list[str]:
    with db.read() as session:
        return sorted(session.scalars(orgs.subtree_ids(session, org_id)))


def test_paths_subtrees_and_lineage(db: Database) -> None:
    province(db)
    assert subtree(db, "zhejiang") == ["hangzhou", "xihu", "zhejiang"]
    assert subtree(db, "hangzhou") == ["hangzhou", "xihu"]
    assert subtree(db, "jiangsu") == ["jiangsu", "zhejiang_x"]
    assert subtree(db, "nowhere") == []
    with db.read() as session:
        xihu = orgs.by_id(session, "xihu")
        assert xihu is not None and xihu.path == "/zhejiang/hangzhou/xihu/"
        assert orgs.lineage(xihu.path) == ("xihu", "hangzhou", "zhejiang")
        assert [org.name for org in orgs.children(session, None)] == sorted(["浙江省", "江苏省"])
        assert [org.id for org in orgs.children(session, "zhejiang")] == ["hangzhou"]
        assert orgs.names_of(session, ["xihu", "nowhere"]) == {"xihu": "西湖区"}


def test_an_underscore_in_an_id_is_not_a_wildcard(db: Database) -> None:
    with db.write() as session:
        orgs.add(session, "a_b", "A")
        orgs.add(session, "axb", "B")
    with db.write() as session:
        orgs.add(session, "child", "C", parent="a_b")
    assert subtree(db, "a_b") == ["a_b", "child"]


def test_moving_a_unit_moves_its_subtree(db: Database) -> None:
    province(db)
    with db.write() as session:
        orgs.move(session, "hangzhou", "jiangsu")
    assert subtree(db, "zhejiang") == ["zhejiang"]
    assert subtree(db, "jiangsu") == ["hangzhou", "jiangsu", "xihu", "zhejiang_x"]
    with db.read() as session:
        xihu = orgs.by_id(session, "xihu")
        assert xihu is not None and xihu.path == "/jiangsu/hangzhou/xihu/"
    with db.write() as session:
        orgs.move(session, "hangzhou", None)
    assert subtree(db, "hangzhou") == ["hangzhou", "xihu"]
    with db.read() as session:
        xihu = orgs.by_id(session, "xihu")
        assert xihu is not None and xihu.path == "/hangzhou/xihu/"


def test_mail_domains_find_their_organization(db: Database) -> None:
    province(db)
    with db.read() as session:
        found = orgs.with_domain(session, "hz.GOV.cn")
        assert found is not None and found.id == "hangzhou"
        assert orgs.with_domain(session, "gov.cn") is None
        assert orgs.domains_of(session, "hangzhou") == ["hz.gov.cn"]
    with db.write() as session:
        orgs.set_domains(session, "hangzhou", ["hangzhou.gov.cn", "hz.gov.cn"])
    with db.read() as session:
        assert orgs.domains_of(session, "hangzhou") == ["hangzhou.gov.cn", "hz.gov.cn"]


def test_migration_0008_makes_organizations_of_free_text_ones(engine: Engine) -> None:
    db_engine = engine.db.engine
    command.downgrade(alembic_config(db_engine), "0007")
    with db_engine.begin() as connection:
        connection.execute(text("INSERT INTO users (name, is_admin, vip, org, created_at) VALUES "
                                "('ann', false, false, 'gov_a', '2026-01-01'),"
                                " ('bob', false, false, NULL, '2026-01-01')"))
        connection.execute(text(
            "INSERT INTO tickets (number, process, state, is_open, requester, fields, version, definitions_version,"
            " created_at, updated_at, state_entered_at) VALUES ('INC1', 'incident', 'new', true, 'ann', '{}', 1,"
            " 'v', '2026-01-01', '2026-01-01', '2026-01-01'), ('INC2', 'incident', 'new', true, 'bob', '{}', 1,"
            " 'v', '2026-01-01', '2026-01-01', '2026-01-01')"))
    upgrade(db_engine, "head")
    with engine.db.read() as session:
        gov_a = orgs.by_id(session, "gov_a")
        assert gov_a is not None and (gov_a.name, gov_a.parent, gov_a.path) == ("gov_a", None, "/gov_a/")
        assert {number: org for number, org in session.execute(select(Ticket.number, Ticket.org))} == \
            {"INC1": "gov_a", "INC2": None}
        ann = users.by_name(session, "ann")
        assert ann is not None and ann.active and not ann.org_contact and ann.full_name is None
