"""Import files and the rules of an import (SPEC 14), without a database: reading CSV (with and without a
byte-order mark, quoted cells, tabs) and JSON lines with the line each row starts on; planning an
organization import over a stored tree (parents in any order, cycles in the file and through the stored
tree, moves that carry a subtree, mail domains of one organization) and a user import over stored users."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from itsm.engine.people.import_files import ImportRefused, Problem, Row, read_import
from itsm.engine.people.orgs import ORG_COLUMNS, StoredOrg, plan_org_import
from itsm.engine.people.user_import import REFUSED, USER_COLUMNS, plan_user_import

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def read(tmp_path: Path, name: str, content: str | bytes, columns: tuple[str, ...] = ORG_COLUMNS,
         required: tuple[str, ...] = ("id", "name")) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    found = read_import(path, columns, required, REFUSED)
    return [(row.line, row.values) for row in found.rows], [f"{p.line}: {p.message}" for p in found.problems]


# -- files -----------------------------------------------------------------------------------------------

def test_csv_with_and_without_a_byte_order_mark(tmp_path: Path) -> None:
    text = ("id,name,parent,domains\nzhejiang,浙江省,,zj.gov.cn\n\n"
            "hangzhou, 杭州市 ,zhejiang,\"hz.gov.cn, hangzhou.gov.cn\"\n")
    plain = read(tmp_path, "orgs.csv", text)
    assert plain == ([(2, {"id": "zhejiang", "name": "浙江省", "parent": "", "domains": "zj.gov.cn"}),
                      (4, {"id": "hangzhou", "name": "杭州市", "parent": "zhejiang",
                           "domains": "hz.gov.cn, hangzhou.gov.cn"})], [])
    assert read(tmp_path, "bom.csv", b"\xef\xbb\xbf" + text.encode()) == plain
    assert read(tmp_path, "crlf.csv", text.replace("\n", "\r\n")) == plain
    assert read(tmp_path, "tabs.csv", text.replace(",", "\t").replace("\"hz.gov.cn\t hangzhou.gov.cn\"",
                                                                       "hz.gov.cn hangzhou.gov.cn"))[1] == []


def test_a_quoted_cell_over_two_lines_keeps_the_line_the_row_starts_on(tmp_path: Path) -> None:
    rows, problems = read(tmp_path, "orgs.csv", 'id,name\na,"甲\n单位"\nb,乙\n')
    assert (rows, problems) == ([(2, {"id": "a", "name": "甲\n单位"}), (4, {"id": "b", "name": "乙"})], [])


def test_bad_headers_and_rows_of_the_wrong_length(tmp_path: Path) -> None:
    assert read(tmp_path, "a.csv", "id,nmae,parent,parent,colour\n")[1] == [
        "1: unknown column 'nmae' (did you mean 'name'?): the columns are id,name,parent,domains,vip",
        "1: column 'parent' appears twice",
        "1: unknown column 'colour': the columns are id,name,parent,domains,vip",
        "1: no column 'name': the first line names the columns (id,name,parent,domains,vip)"]
    assert read(tmp_path, "b.csv", "")[1] == [
        "1: the file is empty: the first line names the columns (id,name,parent,domains,vip)"]
    assert read(tmp_path, "c.csv", "id,name\na,A,extra\nb\n,\n")[1] == [
        "2: 3 values for 2 columns (a comma inside a value needs quotes: \"a, b\")",
        "3: 1 values for 2 columns (a comma inside a value needs quotes: \"a, b\")"]
    _, problems = read(tmp_path, "u.csv", "name,password\n", USER_COLUMNS, ("name",))
    assert problems == ["1: passwords are not imported: people sign in through LDAP or OpenID Connect, or an "
                        "administrator sets a password (itsm user add, the admin pages)"]


def test_text_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    gbk = "id,name\nzhejiang,浙江省\n".encode("gbk")
    assert read(tmp_path, "gbk.csv", gbk)[1] == [
        '2: not UTF-8 text: save the file as UTF-8 (spreadsheet programs: "CSV UTF-8")']


def test_json_lines_and_a_json_array(tmp_path: Path) -> None:
    lines = ('{"id": "zhejiang", "name": "浙江省", "domains": ["zj.gov.cn"], "vip": true}\n\n'
             '{"id": 330106, "name": "西湖区"}\n')
    rows = [(1, {"id": "zhejiang", "name": "浙江省", "domains": ["zj.gov.cn"], "vip": True}),
            (3, {"id": 330106, "name": "西湖区"})]
    assert read(tmp_path, "orgs.jsonl", lines) == (rows, [])
    array = '[\n  {"id": "zhejiang", "name": "浙江省", "domains": ["zj.gov.cn"], "vip": true},\n\n' \
            '  {"id": 330106,\n   "name": "西湖区"}\n]\n'
    assert read(tmp_path, "orgs.json", array) == ([(2, rows[0][1]), (4, rows[1][1])], [])
    assert read(tmp_path, "bad.jsonl", '{"id": "a", "name": "A"}\n{"id": "b", name}\n[1]\n{"id": "c", "colour": 1}\n'
                                       '{"name": "D"}\n')[1] == [
        "2: not JSON: Expecting property name enclosed in double quotes (one object per line)",
        "3: a row is a JSON object such as {\"id\": ...}",
        "4: unknown column 'colour': the columns are id,name,parent,domains,vip",
        "4: no 'name'", "5: no 'id'"]
    assert read(tmp_path, "bad.json", '[{"id": "a", "name": "A"}\n {"id": "b"}]')[1] == [
        "2: not JSON: Expecting ',' delimiter"]


# -- organizations ---------------------------------------------------------------------------------------

def rows(*lines: dict[str, Any]) -> list[Row]:
    return [Row(number, values) for number, values in enumerate(lines, start=2)]


def org(id_: str, name: str, parent: str | None = None, vip: bool = False) -> StoredOrg:
    path = "/" if parent is None else STORED_PATHS[parent]
    STORED_PATHS[id_] = f"{path}{id_}/"
    return StoredOrg(id_, name, parent, STORED_PATHS[id_], vip)


STORED_PATHS: dict[str, str] = {}
TREE = {o.id: o for o in (org("zhejiang", "浙江省"), org("hangzhou", "杭州市", "zhejiang"),
                          org("xihu", "西湖区", "hangzhou"), org("lingyin", "灵隐街道", "xihu"),
                          org("jiangsu", "江苏省"))}
DOMAINS = {"hz.gov.cn": "hangzhou", "js.gov.cn": "jiangsu"}


def problems_of(planned: Any) -> list[str]:
    return [f"{p.line}: {p.message}" for p in sorted(planned.problems)]


def test_parents_in_any_order_and_paths_from_the_root() -> None:
    planned = plan_org_import(rows({"id": "c", "name": "C", "parent": "b"}, {"id": "b", "name": "B", "parent": "a"},
                                   {"id": "a", "name": "A", "parent": "", "domains": "a.cn; A.CN，b.a.cn"}),
                              {}, {}, NOW)
    assert problems_of(planned) == []
    assert {row["id"]: row["path"] for row in planned.created} == {"a": "/a/", "b": "/a/b/", "c": "/a/b/c/"}
    assert planned.domains == {"a": ["a.cn", "b.a.cn"]}
    assert planned.created[0]["created_at"] == NOW and not planned.updated


def test_every_bad_row_with_its_line() -> None:
    planned = plan_org_import(rows(
        {"id": "Zhejiang", "name": "浙江省"},
        {"id": "ok", "name": " "},
        {"id": "a", "name": "A", "parent": "nowhere", "domains": "not a domain"},
        {"id": "b", "name": "B", "parent": "hangzou", "vip": "maybe"},
        {"id": "b", "name": "B again"},
        {"id": "", "name": "no id"},
        {"id": "x" * 101, "name": "long"},
        {"id": "d", "name": "D", "domains": ["d.cn", 3]},
    ), TREE, DOMAINS, NOW)
    assert problems_of(planned) == [
        "2: organization id 'Zhejiang' is not valid: lower-case letters a-z, digits and . _ - (starting with a "
        "letter or a digit), at most 100 characters",
        "3: an organization needs a name",
        "4: 'not' is not a mail domain (such as hz.gov.cn)",
        "5: 'vip' is true or false, not 'maybe'",
        "6: organization 'b' is on line 5 already",
        "7: an organization needs an id",
        f"8: organization id '{'x' * 40}' is not valid: lower-case letters a-z, digits and . _ - (starting with a "
        "letter or a digit), at most 100 characters",
        "9: 'domains' is a list of mail domains",
    ]
    planned = plan_org_import(rows({"id": "a", "name": "A", "parent": "nowhere"},
                                   {"id": "b", "name": "B", "parent": "hangzou"}), TREE, DOMAINS, NOW)
    assert problems_of(planned) == [
        "2: unknown parent 'nowhere': neither in this file nor stored",
        "3: unknown parent 'hangzou' (did you mean 'hangzhou'?): neither in this file nor stored"]
    assert not planned.created and not planned.updated


def test_cycles_in_the_file_and_through_the_stored_tree() -> None:
    in_file = plan_org_import(rows({"id": "a", "name": "A", "parent": "c"}, {"id": "b", "name": "B", "parent": "a"},
                                   {"id": "c", "name": "C", "parent": "b"}, {"id": "d", "name": "D", "parent": "d"},
                                   {"id": "e", "name": "E", "parent": "a"}), {}, {}, NOW)
    assert problems_of(in_file) == [
        "2: organization 'a' would be its own ancestor: a -> c -> b -> a",
        "3: organization 'b' would be its own ancestor: b -> a -> c -> b",
        "4: organization 'c' would be its own ancestor: c -> b -> a -> c",
        "5: organization 'd' would be its own ancestor: d -> d"]  # e hangs under the loop: not its own ancestor
    # zhejiang moved under its own grandchild: the stored tree closes the loop
    through = plan_org_import(rows({"id": "zhejiang", "name": "浙江省", "parent": "xihu"}), TREE, DOMAINS, NOW)
    assert problems_of(through) == [
        "2: organization 'zhejiang' would be its own ancestor: zhejiang -> xihu -> hangzhou -> zhejiang"]


def test_a_move_rewrites_the_paths_of_the_subtree_and_counts_what_changed() -> None:
    planned = plan_org_import(rows({"id": "hangzhou", "name": "杭州市", "parent": "jiangsu", "domains": "hz.gov.cn"},
                                   {"id": "zhejiang", "name": "浙江省(新)"},
                                   {"id": "jiangsu", "name": "江苏省", "vip": "是"},
                                   {"id": "xihu", "name": "西湖区", "domains": ""},
                                   {"id": "new", "name": "新单位", "parent": "lingyin"}), TREE, DOMAINS, NOW)
    assert problems_of(planned) == []
    assert {row["b_id"]: (row["name"], row["parent"], row["path"], row["vip"]) for row in planned.updated} == {
        "hangzhou": ("杭州市", "jiangsu", "/jiangsu/hangzhou/", False),
        "xihu": ("西湖区", "hangzhou", "/jiangsu/hangzhou/xihu/", False),
        "lingyin": ("灵隐街道", "xihu", "/jiangsu/hangzhou/xihu/lingyin/", False),  # not in the file: carried
        "zhejiang": ("浙江省(新)", None, "/zhejiang/", False),
        "jiangsu": ("江苏省", None, "/jiangsu/", True)}
    assert [(row["id"], row["path"]) for row in planned.created] == [("new", "/jiangsu/hangzhou/xihu/lingyin/new/")]
    assert planned.domains == {}  # hangzhou keeps hz.gov.cn, xihu had none
    assert (len(planned.changed), planned.unchanged, planned.moved, planned.carried) == (4, 0, 1, 1)


def test_the_same_file_again_changes_nothing() -> None:
    planned = plan_org_import(rows({"id": "zhejiang", "name": "浙江省", "parent": None},
                                   {"id": "hangzhou", "name": "杭州市", "parent": "zhejiang",
                                    "domains": ["HZ.gov.cn"]}), TREE, DOMAINS, NOW)
    assert (planned.created, planned.updated, planned.domains, planned.unchanged) == ([], [], {}, 2)


def test_a_domain_belongs_to_one_organization() -> None:
    planned = plan_org_import(rows({"id": "a", "name": "A", "domains": "a.cn hz.gov.cn"},
                                   {"id": "b", "name": "B", "domains": "a.cn"},
                                   {"id": "jiangsu", "name": "江苏省"}), TREE, DOMAINS, NOW)
    assert problems_of(planned) == [
        "2: mail domain 'hz.gov.cn' belongs to organization 'hangzhou': a domain belongs to one organization "
        "(list it there no more, in this file, to move it)",
        "3: mail domain 'a.cn' is given to 'a' on line 2: a domain belongs to one organization"]
    moved = plan_org_import(rows({"id": "jiangsu", "name": "江苏省", "domains": "hz.gov.cn js.gov.cn"},
                                 {"id": "hangzhou", "name": "杭州市", "parent": "zhejiang", "domains": ""}),
                            TREE, DOMAINS, NOW)
    assert problems_of(moved) == []
    assert moved.domains == {"jiangsu": ["hz.gov.cn", "js.gov.cn"], "hangzhou": []}


def test_a_tree_too_deep_for_its_paths() -> None:
    chain = [{"id": f"{i:03d}" + "x" * 96, "name": str(i), "parent": f"{i - 1:03d}" + "x" * 96 if i else ""}
             for i in range(20)]
    planned = plan_org_import(rows(*chain), {}, {}, NOW)
    assert problems_of(planned) == [f"21: the path from the root to '{chain[-1]['id']}' would be longer than 2000 "
                                    f"characters: the tree is too deep"]


# -- users -----------------------------------------------------------------------------------------------

def stored_user(id_: int, name: str, **values: Any) -> SimpleNamespace:
    defaults = {"email": None, "org": None, "full_name": None, "locale": None, "vip": False, "is_admin": False,
                "org_contact": False}
    return SimpleNamespace(id=id_, name=name, **{**defaults, **values})


USERS = {"wang": stored_user(1, "wang", email="wang@hz.gov.cn", org="xihu", full_name="王芳", is_admin=True),
         "li": stored_user(2, "li", org="xihu", org_contact=True)}
ORGS = set(TREE)


def test_names_with_full_width_spaces_are_names() -> None:
    orgs = plan_org_import(rows({"id": "xihu.czj", "name": "西湖区\u3000财政局\u00a0"}), {}, {}, NOW)
    assert orgs.problems == [] and orgs.created[0]["name"] == "西湖区\u3000财政局"
    users = plan_user_import(rows({"name": "wang", "full_name": "王\u3000芳"}), {}, ORGS, NOW)
    assert users.problems == [] and users.created[0]["full_name"] == "王\u3000芳"


def test_users_created_updated_and_left_alone() -> None:
    planned = plan_user_import(rows(
        {"name": "wang", "email": "wang@hz.gov.cn", "org": "xihu", "full_name": "王芳", "admin": "true"},
        {"name": "li", "org": "hangzhou", "full_name": "李明", "vip": "是"},
        {"name": "张伟", "email": "zhang.wei@hz.gov.cn", "org": "lingyin", "locale": "zh_CN", "org_contact": "1"},
    ), USERS, ORGS, NOW)
    assert planned.problems == [] and planned.unchanged == 1
    assert planned.updated == [{"b_id": 2, "org": "hangzhou", "full_name": "李明", "vip": True}]
    assert planned.created == [{"name": "张伟", "email": "zhang.wei@hz.gov.cn", "org": "lingyin", "full_name": None,
                                "locale": "zh-CN", "vip": False, "is_admin": False, "org_contact": True,
                                "password_hash": None, "timezone": None, "active": True, "created_at": NOW}]


def test_every_bad_user_row_with_its_line_and_each_bad_value() -> None:
    planned = plan_user_import(rows(
        {"name": "bad name", "email": "x@y"},
        {"name": "ok", "email": "nobody", "org": "hangzou", "locale": "chinese!", "vip": "perhaps",
         "full_name": "a\tb"},
        {"name": "ok", "org": "xihu"},
        {"name": "system"},
        {"name": "carol", "org_contact": "yes"},
        {"name": "li", "org": ""},  # li is the contact of xihu: leaving it leaves a contact of nothing
        {"name": ""},
    ), USERS, ORGS, NOW)
    assert [f"{p.line}: {p.message}" for p in sorted(planned.problems)] == [
        "2: user name 'bad name' holds a space: a user name is letters, digits and . _ - @",
        "2: e-mail address 'x@y' is not valid: write it as name@example.org",
        "3: e-mail address 'nobody' is not valid: write it as name@example.org",
        "3: no organization 'hangzou' (import the organizations first: itsm org import)",
        "3: full name 'a\tb...' is longer than 200 characters or holds a control character",
        "3: 'chinese!' is not a language tag (for example zh-CN or en)",
        "3: 'vip' is true or false, not 'perhaps'",
        "4: user 'ok' is on line 3 already",
        "5: 'system' is the built-in actor that holds every role: choose another user name",
        "6: user 'carol' is an organization's contact (org_contact) without an organization (org)",
        "7: user 'li' is an organization's contact (org_contact) without an organization (org)",
        "8: a user needs a name"]
    assert planned.created == planned.updated == []
    duplicate = plan_user_import(rows({"name": "ok"}, {"name": "ok"}), USERS, ORGS, NOW)
    assert [f"{p.line}: {p.message}" for p in duplicate.problems] == ["3: user 'ok' is on line 2 already"]


def test_import_refused_lists_every_problem_by_line() -> None:
    refused = ImportRefused("orgs.csv", [Problem(9, "b"), Problem(2, "a"), Problem(9, "c")])
    assert refused.lines() == ["orgs.csv:2: a", "orgs.csv:9: b", "orgs.csv:9: c"]
    assert refused.message == "3 problems in orgs.csv: nothing was imported" and refused.status == 422
    assert refused.details == [{"line": 2, "message": "a"}, {"line": 9, "message": "b"}, {"line": 9, "message": "c"}]
    assert ImportRefused("u.csv", [Problem(1, "x")]).message == "1 problem in u.csv: nothing was imported"


@pytest.mark.parametrize("value", ["true", "TRUE", "yes", "Y", "1", "是", True])
def test_flags_people_write(value: Any) -> None:
    planned = plan_user_import(rows({"name": "new", "vip": value}), {}, ORGS, NOW)
    assert planned.created[0]["vip"] is True
