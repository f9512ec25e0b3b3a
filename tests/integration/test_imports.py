"""`itsm org import` and `itsm user import` (SPEC 14) on SQLite and PostgreSQL: CSV with and without a
byte-order mark, JSON lines; every bad row by line and nothing written; re-imports that update, move
subtrees and move mail domains; cycles through the stored tree; files of 1,000 rows; `itsm user add` with
the organization's flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from itsm.cli import main
from itsm.store import Database, Organization, OrganizationDomain, User, orgs, users

BOM = "\ufeff"
ORGS_CSV = """id,name,parent,domains
xihu,西湖区,hangzhou,
hangzhou,杭州市,zhejiang,"hz.gov.cn, hangzhou.gov.cn"
zhejiang,浙江省,,zj.gov.cn
lingyin,灵隐街道,xihu,
jiangsu,江苏省,,js.gov.cn
"""
USERS_JSONL = [
    {"name": "wangfang", "email": "wang.fang@hz.gov.cn", "org": "xihu", "full_name": "王芳", "locale": "zh-CN",
     "org_contact": True},
    {"name": "李明", "email": "li.ming@zj.gov.cn", "org": "zhejiang", "full_name": "李明", "vip": True},
    {"name": "admin2", "admin": True},
]


@pytest.fixture()
def cli_db(db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The test's database (migrated), as `itsm` commands find it."""
    monkeypatch.setenv("ITSM_DATABASE_URL", db_url)
    return db


def itsm(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def write(folder: Path, name: str, text: str, bom: bool = False) -> str:
    path = folder / name
    path.write_text((BOM if bom else "") + text, encoding="utf-8")
    return str(path)


def tree(db: Database) -> dict[str, tuple[str, str | None, str, bool]]:
    with db.read() as session:
        return {o.id: (o.name, o.parent, o.path, o.vip) for o in session.scalars(select(Organization))}


def domains(db: Database) -> dict[str, str]:
    with db.read() as session:
        return {d.domain: d.org for d in session.scalars(select(OrganizationDomain))}


def people(db: Database) -> dict[str, tuple[Any, ...]]:
    with db.read() as session:
        return {u.name: (u.email, u.org, u.full_name, u.locale, u.vip, u.is_admin, u.org_contact, u.password_hash,
                         u.active) for u in session.scalars(select(User))}


def test_organizations_from_csv_with_a_byte_order_mark_and_users_from_json_lines(cli_db: Database,
                                                                                  tmp_path: Path) -> None:
    result = itsm("org", "import", write(tmp_path, "orgs.csv", ORGS_CSV, bom=True))
    assert (result.exit_code, result.output) == (0, "organizations: 5 created, 0 updated, 0 unchanged\n")
    assert tree(cli_db) == {
        "zhejiang": ("浙江省", None, "/zhejiang/", False),
        "hangzhou": ("杭州市", "zhejiang", "/zhejiang/hangzhou/", False),
        "xihu": ("西湖区", "hangzhou", "/zhejiang/hangzhou/xihu/", False),
        "lingyin": ("灵隐街道", "xihu", "/zhejiang/hangzhou/xihu/lingyin/", False),
        "jiangsu": ("江苏省", None, "/jiangsu/", False)}
    assert domains(cli_db) == {"hz.gov.cn": "hangzhou", "hangzhou.gov.cn": "hangzhou", "zj.gov.cn": "zhejiang",
                               "js.gov.cn": "jiangsu"}
    lines = "\n".join(json.dumps(user, ensure_ascii=False) for user in USERS_JSONL) + "\n"
    result = itsm("user", "import", write(tmp_path, "users.jsonl", lines))
    assert (result.exit_code, result.output) == (0, "users: 3 created, 0 updated, 0 unchanged\n")
    assert people(cli_db) == {
        "wangfang": ("wang.fang@hz.gov.cn", "xihu", "王芳", "zh-CN", False, False, True, None, True),
        "李明": ("li.ming@zj.gov.cn", "zhejiang", "李明", None, True, False, False, None, True),
        "admin2": (None, None, None, None, False, True, False, None, True)}  # no password: none imported
    with cli_db.read() as session:  # what the runtime reads for `requester.*`
        row = users.named(session, "wangfang")
        assert (row.org_name, row.org_path) == ("西湖区", "/zhejiang/hangzhou/xihu/")
        assert users.named(session, "admin2").org_path is None
    again = itsm("user", "import", write(tmp_path, "users.jsonl", lines))
    assert again.output == "users: 0 created, 0 updated, 3 unchanged\n"


def test_every_bad_row_is_reported_by_line_and_nothing_is_written(cli_db: Database, tmp_path: Path) -> None:
    itsm("org", "import", write(tmp_path, "orgs.csv", ORGS_CSV))
    before = tree(cli_db), domains(cli_db)
    bad = write(tmp_path, "bad.csv", """id,name,parent,domains
ningbo,宁波市,zhejiang,nb.gov.cn
Wenzhou,温州市,zhejiang,
shaoxing,,zhejang,
huzhou,湖州市,zhejiang,hz.gov.cn
ningbo,宁波,zhejiang,
zhejiang,浙江省,lingyin,
""")
    result = itsm("org", "import", bad)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{bad}:3: organization id 'Wenzhou' is not valid: lower-case letters a-z, digits and . _ - (starting "
        "with a letter or a digit), at most 100 characters",
        f"{bad}:4: an organization needs a name",
        f"{bad}:5: mail domain 'hz.gov.cn' belongs to organization 'hangzhou': a domain belongs to one "
        "organization (list it there no more, in this file, to move it)",
        f"{bad}:6: organization 'ningbo' is on line 2 already",
        f"{bad}:7: organization 'zhejiang' would be its own ancestor: zhejiang -> lingyin -> xihu -> hangzhou -> "
        "zhejiang",
        f"error: 5 problems in {bad}: nothing was imported"]
    assert (tree(cli_db), domains(cli_db)) == before  # ningbo, the one good row, is not written either
    users_file = write(tmp_path, "users.csv", "name,email,org,full_name,locale,vip,admin,org_contact\n"
                                              "wangfang,wang.fang@hz.gov.cn,xihu,王芳,zh-CN,否,否,是\n"
                                              "zhang wei,zw@hz,nowhere,,,maybe,,\n")
    result = itsm("user", "import", users_file)
    assert result.exit_code == 1 and result.stderr.splitlines() == [
        f"{users_file}:3: user name 'zhang wei' holds a space: a user name is letters, digits and . _ - @",
        f"{users_file}:3: e-mail address 'zw@hz' is not valid: write it as name@example.org",
        f"{users_file}:3: no organization 'nowhere' (import the organizations first: itsm org import)",
        f"{users_file}:3: 'vip' is true or false, not 'maybe'",
        f"error: 4 problems in {users_file}: nothing was imported"]
    assert people(cli_db) == {}


def test_a_reimport_updates_moves_a_subtree_and_moves_a_domain(cli_db: Database, tmp_path: Path) -> None:
    itsm("org", "import", write(tmp_path, "orgs.csv", ORGS_CSV))
    itsm("user", "import", write(tmp_path, "users.csv", "name,org\nwangfang,lingyin\n"))
    # hangzhou (with xihu and lingyin under it) moves to jiangsu, which takes hz.gov.cn and becomes VIP
    moved = write(tmp_path, "moved.jsonl", "\n".join(json.dumps(row, ensure_ascii=False) for row in [
        {"id": "hangzhou", "name": "杭州市", "parent": "jiangsu", "domains": ["hangzhou.gov.cn"]},
        {"id": "jiangsu", "name": "江苏省", "domains": "js.gov.cn hz.gov.cn", "vip": True},
        {"id": "zhejiang", "name": "浙江省"}]))
    result = itsm("org", "import", moved)
    assert (result.exit_code, result.output) == (
        0, "organizations: 0 created, 2 updated, 1 unchanged; 1 moved, with 2 more under them\n")
    assert tree(cli_db) == {
        "zhejiang": ("浙江省", None, "/zhejiang/", False),
        "hangzhou": ("杭州市", "jiangsu", "/jiangsu/hangzhou/", False),
        "xihu": ("西湖区", "hangzhou", "/jiangsu/hangzhou/xihu/", False),
        "lingyin": ("灵隐街道", "xihu", "/jiangsu/hangzhou/xihu/lingyin/", False),
        "jiangsu": ("江苏省", None, "/jiangsu/", True)}
    assert domains(cli_db) == {"hangzhou.gov.cn": "hangzhou", "hz.gov.cn": "jiangsu", "zj.gov.cn": "zhejiang",
                               "js.gov.cn": "jiangsu"}
    with cli_db.read() as session:
        assert sorted(session.scalars(orgs.subtree_ids(session, "jiangsu"))) == ["hangzhou", "jiangsu", "lingyin",
                                                                                  "xihu"]
        assert sorted(session.scalars(orgs.subtree_ids(session, "zhejiang"))) == ["zhejiang"]
        assert users.named(session, "wangfang").org_path == "/jiangsu/hangzhou/xihu/lingyin/"
    # a cycle through the stored tree: jiangsu under lingyin, which is under jiangsu now
    cycle = write(tmp_path, "cycle.csv", "id,name,parent\njiangsu,江苏省,lingyin\n")
    result = itsm("org", "import", cycle)
    assert result.exit_code == 1 and result.stderr.splitlines()[0] == (
        f"{cycle}:2: organization 'jiangsu' would be its own ancestor: jiangsu -> lingyin -> xihu -> hangzhou -> "
        "jiangsu")
    assert tree(cli_db)["jiangsu"] == ("江苏省", None, "/jiangsu/", True)
    # users: a column left out keeps its value; an empty cell clears it
    result = itsm("user", "import", write(tmp_path, "users2.csv", "name,full_name,email\nwangfang,王芳,\n"))
    assert result.output == "users: 0 created, 1 updated, 0 unchanged\n"
    assert people(cli_db)["wangfang"][:3] == (None, "lingyin", "王芳")


def test_a_dry_run_writes_nothing(cli_db: Database, tmp_path: Path) -> None:
    result = itsm("org", "import", "--dry-run", write(tmp_path, "orgs.csv", ORGS_CSV))
    assert result.output == ("organizations: 5 would be created, 0 would be updated, 0 unchanged "
                             "(dry run: nothing written)\n")
    assert tree(cli_db) == {}


def test_files_of_a_thousand_rows(cli_db: Database, tmp_path: Path) -> None:
    lines = ["id,name,parent,domains", "province,某省,,province.gov.cn"]
    lines += [f"city{c},市{c},province,c{c}.gov.cn" for c in range(10)]
    lines += [f"unit{c}_{u:03d},单位{c}-{u},city{c}," for c in range(10) for u in range(99)]
    lines.reverse()  # children before their parents
    lines.insert(0, lines.pop())
    result = itsm("org", "import", write(tmp_path, "orgs.csv", "\n".join(lines) + "\n"))
    assert result.output == "organizations: 1001 created, 0 updated, 0 unchanged\n"
    people_rows = ["name,email,org,full_name,locale,vip,admin,org_contact"] + [
        f"user{i:04d},user{i:04d}@c{i % 10}.gov.cn,unit{i % 10}_{i % 99:03d},用户{i},zh-CN,{i % 7 == 0},,"
        f"{'yes' if i < 10 else ''}" for i in range(1000)]
    result = itsm("user", "import", write(tmp_path, "users.csv", "\n".join(people_rows) + "\n"))
    assert result.output == "users: 1000 created, 0 updated, 0 unchanged\n"
    with cli_db.read() as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.vip.is_(True))) == 143
        assert session.scalar(select(func.count()).select_from(User).where(User.org_contact.is_(True))) == 10
        assert len(list(session.scalars(orgs.subtree_ids(session, "city3")))) == 100
        assert users.named(session, "user0123").org_path == "/province/city3/unit3_024/"
    people_rows[1] = people_rows[1].replace("用户0", "用户零")
    result = itsm("user", "import", write(tmp_path, "users.csv", "\n".join(people_rows) + "\n"))
    assert result.output == "users: 0 created, 1 updated, 999 unchanged\n"


def test_user_add_with_the_organization_flags(cli_db: Database, tmp_path: Path) -> None:
    itsm("org", "import", write(tmp_path, "orgs.csv", ORGS_CSV))
    result = itsm("user", "add", "wangfang", "--org", "xihu", "--org-contact", "--full-name", "王芳")
    assert (result.exit_code, result.output) == (0, "created user wangfang\n")
    assert people(cli_db)["wangfang"][1:3] + people(cli_db)["wangfang"][6:7] == ("xihu", "王芳", True)
    result = itsm("user", "add", "li", "--org", "xihuu")
    assert (result.exit_code, result.stderr) == (
        1, "error: no organization 'xihuu' (did you mean 'xihu'?) (itsm org import creates organizations)\n")
    result = itsm("user", "add", "li", "--org-contact")
    assert (result.exit_code, result.stderr) == (
        1, "error: an organization's contact needs an organization: give --org too\n")
    assert set(people(cli_db)) == {"wangfang"}
