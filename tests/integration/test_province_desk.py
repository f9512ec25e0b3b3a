"""The province pack (tests/packs/valid/province) on SQLite and PostgreSQL with imported organizations and
users: routing, the SLA policy and the priority matrix select on `requester.orgs` as the store loads it,
on create and in the worker's sweep, and a moved unit is seen under its new ancestors (SPEC 14)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from itsm.engine import Engine
from itsm.engine.people.orgs import import_orgs
from itsm.engine.people.user_import import import_users
from itsm.engine.runtime.actors import system_actor
from itsm.engine.runtime.sweep import sweep_due
from itsm.store import Database

from support import Clock

PROVINCE = Path(__file__).resolve().parents[1] / "packs" / "valid" / "province"
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_tickets_follow_the_requesters_organization_and_its_ancestors(db: Database, tmp_path: Path) -> None:
    (tmp_path / "orgs.csv").write_text("id,name,parent\nxihu,西湖区,hangzhou\nhangzhou,杭州市,zhejiang\n"
                                       "zhejiang,浙江省,\njiangsu,江苏省,\nnanjing,南京市,jiangsu\n", encoding="utf-8")
    (tmp_path / "users.csv").write_text("name,org,full_name\nrita,xihu,王芳\nli,nanjing,李明\nann,,\nbob,,\n",
                                        encoding="utf-8")
    import_orgs(db, tmp_path / "orgs.csv")
    import_users(db, tmp_path / "users.csv")
    clock = Clock(START)
    engine = Engine(db, clock=clock)
    engine.definitions.publish_path(PROVINCE)
    system = system_actor()

    rita = engine.create(system, "report", {"summary": "打印机无法打印"}, requester="rita")
    assert (rita["team"], rita["priority"], rita["fields"]["unit"]) == ("zhejiang_desk", "P2", "西湖区")
    assert rita["sla"]["response"]["deadline"] == "2026-03-02T10:30:00+08:00"  # province_sla, P2: 30 minutes
    li = engine.create(system, "report", {"summary": "网络中断"}, requester="li")
    assert (li["team"], li["priority"], li["fields"]["unit"]) == ("desk", "P3", "南京市")
    assert li["sla"]["response"]["deadline"] == "2026-03-02T14:00:00+08:00"  # plain_sla, P3: 4 hours

    # the worker's sweep reads the requesters of its batch (`requester.orgs` in the breach comment)
    clock.advance(minutes=31)
    assert sweep_due(engine).clocks == 1
    comments = [c["text"] for c in engine.comments(system, rita["number"])]
    assert comments == ["西湖区（xihu < hangzhou < zhejiang）：省级响应时限已超"]
    assert sweep_due(engine, set_based=False).clocks == 0

    # Hangzhou (with Xihu) moves to Jiangsu: rita's next report is no longer the Zhejiang desk's
    (tmp_path / "move.csv").write_text("id,name,parent\nhangzhou,杭州市,jiangsu\n", encoding="utf-8")
    assert import_orgs(db, tmp_path / "move.csv").carried == 1
    again = engine.create(system, "report", {"summary": "打印机又坏了"}, requester="rita")
    assert (again["team"], again["priority"]) == ("desk", "P2")  # still under hangzhou: raised one level
    assert again["sla"]["response"]["deadline"] == "2026-03-02T12:31:00+08:00"  # plain_sla, P2: 2 hours
    with db.read() as session:
        from itsm.store import tickets

        assert {row.number: row.org for row in tickets.by_ids_locked(session, [1, 2, 3])} == {
            rita["number"]: "xihu", li["number"]: "nanjing", again["number"]: "xihu"}
