"""The pages in Simplified Chinese and English (SPEC 15), on SQLite and PostgreSQL: the language of a request
(the user's locale, the switch, Accept-Language, else English), `<html lang>`, and every page of the portal,
queue, ticket, forms, dashboard and admin area walked in zh-CN with no message of the catalog left in English,
then in English with no Chinese. Pack text (the default pack's English labels) stays as written."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from babel.messages import pofile
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine.people.users import add_user
from itsm.web import create_app, engine_of
from itsm.web.i18n import TRANSLATIONS

from support import DEFINITIONS, deployed_app

PEOPLE = {"rita": {}, "lars": {}, "dana": {}, "admin": {"admin": True}}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CJK = re.compile(r"[\u4e00-\u9fff]")
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
TYPED = ["打印机损坏，无法打印", "三楼", "还是不行"]  # what people type stays as they typed it, in any language
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@pytest.fixture()
def pack(tmp_path: Path) -> Path:
    folder = tmp_path / "pack"
    shutil.copytree(DEFINITIONS, folder)
    return folder


@pytest.fixture()
def app(db_url: str, pack: Path) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(pack), "TESTING": True})
    for name, flags in PEOPLE.items():
        add_user(engine_of(app).db, name, password=f"{name}-pw", **flags)
    return app


class Browser:
    """A test client that signs in and posts forms with the page's CSRF token, with fixed request headers."""

    def __init__(self, app: Flask, name: str | None = None, headers: dict[str, str] | None = None):
        self.client: FlaskClient = app.test_client()
        self.headers = headers or {}
        self.token = ""
        if name:
            self.get("/login")
            assert self.post("/login", {"name": name, "password": f"{name}-pw"}).status_code == 302

    def get(self, path: str) -> Any:
        response = self.client.get(path, headers=self.headers)
        found = TOKEN.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any]) -> Any:
        if not self.token:
            self.get("/login")
        return self.client.post(path, data={"csrf_token": self.token, **data}, headers=self.headers)


# -- what a page says ----------------------------------------------------------------------------------

class _Text(HTMLParser):
    """The text people read or hear: text nodes and the attributes shown or spoken (title, placeholder,
    aria-label, alt), outside scripts and the machine text of <pre> (Mermaid source, validation lines)."""

    SPOKEN = ("title", "placeholder", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.segments: list[str] = []
        self.lang = ""
        self._skip = 0
        self._own_language: str | None = None  # the switch's buttons ("中文", "English") are in their own language

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang") or ""
        elif values.get("lang"):
            self._own_language = tag
            self._skip += 1
        if tag in ("script", "style", "pre"):
            self._skip += 1
        self.segments += [value for key, value in attrs if key in self.SPOKEN and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "pre") or tag == self._own_language:
            self._skip = max(0, self._skip - 1)
            if tag == self._own_language:
                self._own_language = None

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.segments.append(" ".join(data.split()))


def read(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _strings_in(node: Any, language: str | None) -> Iterator[str]:
    """As `_strings`, but of a text given per language ({en: New, zh-CN: 新建}) only the one in `language`."""
    if language is not None and isinstance(node, dict) and node and all(
            isinstance(key, str) and LANGUAGE_TAG.match(key) for key in node) and language in node:
        yield from _strings(node[language])
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings_in(value, language)
    elif isinstance(node, list):
        for value in node:
            yield from _strings_in(value, language)
    else:
        yield from _strings(node)


def pack_texts(folder: Path, language: str | None = None) -> list[str]:
    """Every string the pack's YAML holds (labels, names, ids ...), as written and lower-cased, longest first;
    with `language`, of each text written per language only the one in that language."""
    texts: set[str] = set()
    for path in folder.rglob("*.y*ml"):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            for text in _strings_in(document, language):
                texts.update({text.strip(), text.strip().lower()})
    return sorted((t for t in texts if len(t) > 1), key=len, reverse=True)


def catalog_fragments() -> dict[str, list[str]]:
    """msgid -> its literal English pieces (between placeholders and tags) that a reader would see, less those
    the Chinese translation keeps as they are (SLA, CSV, YAML ...)."""
    with (TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = pofile.read_po(source)
    fragments: dict[str, list[str]] = {}
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        translated = message.string if isinstance(message.string, str) else " ".join(message.string)
        pieces = [p.strip(" .,:;()·/—'\"") for text in ids
                  for p in re.split(r"%\([a-z_]+\)[.\d]*[sdf]|%%|<[^>]+>", text)]
        kept = [p for p in pieces if len(re.findall(r"[A-Za-z]", p)) >= 2 and p not in translated]
        if kept:
            fragments[ids[0]] = kept
    return fragments


FRAGMENTS = catalog_fragments()
# Compiled once: there are more pieces than `re` caches, and a page has hundreds of segments. A piece joined
# to its neighbours by a hyphen or an underscore is part of a name, not prose ("of" in the pack's folder
# /tmp/pytest-of-root/test_every_page_of_a_...).
PATTERNS = [(msgid, piece, re.compile(rf"(?<![A-Za-z_-]){re.escape(piece)}(?![A-Za-z_-])"))
            for msgid, pieces in FRAGMENTS.items() for piece in pieces]


def untranslated(html: str, allowed: list[str]) -> list[str]:
    """The catalog's English pieces still on a page meant to be Chinese (pack text taken out first)."""
    found = []
    for segment in read(html).segments:
        for text in allowed:
            if text in segment:
                segment = segment.replace(text, " ")
        for msgid, piece, pattern in PATTERNS:
            if pattern.search(segment):
                found.append(f"{piece!r} (of {msgid!r}) in {segment!r}")
    return found


def assert_chinese(response: Any, allowed: list[str], status: int = 200) -> None:
    assert response.status_code == status, response.text[:500]
    page = read(response.text)
    assert page.lang == "zh-CN"
    assert CJK.search(" ".join(page.segments)), "no Chinese at all"
    left = untranslated(response.text, allowed)
    assert not left, "\n".join(left)


def assert_english(response: Any, status: int = 200) -> None:
    assert response.status_code == status, response.text[:500]
    page = read(response.text)
    assert page.lang == "en"
    chinese = [s for s in page.segments if CJK.search(re.sub("|".join(TYPED), "", s))]
    assert not chinese, chinese


# -- walking the pages ---------------------------------------------------------------------------------

def walk(app: Flask, pack: Path, headers: dict[str, str], check: Any) -> None:
    """Every kind of page, as each person sees it: login, errors, portal, forms (with problems), ticket pages
    with a timeline, transition forms, queue, dashboard, admin area, versions' diff and the editor."""
    anonymous = Browser(app, headers=headers)
    check(anonymous.get("/login"))
    check(anonymous.client.post("/login", data={"csrf_token": anonymous.token, "name": "rita", "password": "no"},
                                headers=headers), status=401)
    rita, lars, admin = (Browser(app, name, headers) for name in ("rita", "lars", "admin"))
    check(rita.get("/portal"))  # nothing reported yet: the empty portal
    check(rita.get("/new/incident"))
    check(rita.post("/new/incident", {"short_description": ""}), status=422)
    created = rita.post("/new/incident", {"short_description": TYPED[0], "location": TYPED[1]})
    assert created.status_code == 302
    number = created.location.rsplit("/", 1)[1]
    check(rita.get(f"/tickets/{number}"))  # with the flash of the report
    check(rita.get("/portal"))
    assert rita.post(f"/tickets/{number}/comments", {"text": TYPED[2]}).status_code == 302
    check(lars.get("/queue"))
    check(lars.get("/queue?state=closed&sla=breached&q=nothing"))  # no match
    check(lars.get(f"/tickets/{number}/transitions/classify"))
    check(lars.post(f"/tickets/{number}/transitions/classify", {"impact": "high"}), status=422)
    classified = lars.post(f"/tickets/{number}/transitions/classify", {
        "service": "workplace", "category": "hardware", "impact": "high", "urgency": "high"})
    assert classified.status_code == 302
    check(lars.get(f"/tickets/{number}"))  # events: create, routing, sla, transition, comment; the SLA clocks
    check(lars.get("/queue"))  # with an SLA countdown
    check(lars.get("/dashboard"))
    check(lars.get("/dashboard?from=2020-01-01&to=2020-01-02"))  # no data in the charts
    check(lars.get("/admin/"), status=403)
    check(admin.get("/admin/"))
    check(admin.get("/admin/processes/incident"))
    check(admin.get("/admin/editor/"))
    engine = engine_of(app)
    first = engine.definitions.active_id()
    (pack / "pack.yaml").write_text((pack / "pack.yaml").read_text().replace("name: Default service desk",
                                                                            "name: Renamed desk"))
    engine.definitions.publish_path(pack)
    check(admin.get("/admin/"))  # two versions: the compare form
    check(admin.get(f"/admin/diff?old={first}&new={engine.definitions.active_id()}"))
    check(admin.get(f"/admin/diff?old={first}&new={first}"))
    _walk_people(engine, admin, lars, check)
    check(rita.get("/no-such-page"), status=404)


def _walk_people(engine: Any, admin: Browser, lars: Browser, check: Any) -> None:
    """The people pages (issue 16) and the dashboard's breakdown by organization."""
    from itsm.engine.people.org_admin import create_org

    create_org(engine.db, {"id": "zhejiang", "name": "Zhejiang"})
    create_org(engine.db, {"id": "hangzhou", "name": "Hangzhou", "parent": "zhejiang"})
    add_user(engine.db, "wang", org="hangzhou", org_contact=True, admin=True, vip=True)
    engine.create(engine.actor("wang"), "incident", {"short_description": "Printer"})
    for path in ("/admin/users", "/admin/users?q=nobody", "/admin/users?org=nowhere", "/admin/users/wang",
                 "/admin/users/rita", "/admin/new-user", "/admin/orgs", "/admin/orgs?parent=zhejiang",
                 "/admin/orgs?parent=hangzhou", "/admin/orgs?q=hang", "/admin/orgs?q=nothing", "/admin/orgs/hangzhou",
                 "/admin/new-org"):
        check(admin.get(path))
    check(admin.post("/admin/new-user", {"name": "two words", "email": "x", "org": "nowhere", "password": "x"}),
          status=422)
    check(admin.post("/admin/new-org", {"id": "Bad", "name": "", "parent": "hangzhou", "domains": "x"}), status=422)
    check(admin.post("/admin/users/wang/password", {"password": ""}))  # the generated password, shown once
    check(lars.get("/dashboard?org=zhejiang"))
    check(lars.get("/dashboard?org=hangzhou"))


def test_every_page_speaks_chinese_to_a_browser_that_asks_for_it(app: Flask, pack: Path) -> None:
    allowed = pack_texts(pack) + ["Renamed desk", "renamed desk"]
    walk(app, pack, ZH, lambda response, status=200: assert_chinese(response, allowed, status))


def test_every_page_speaks_chinese_to_a_user_whose_locale_is_zh_cn(app: Flask, pack: Path) -> None:
    engine = engine_of(app)
    from itsm.engine.people.users import set_locale

    for name in PEOPLE:
        set_locale(engine.db, name, "zh-CN")
    allowed = pack_texts(pack) + ["Renamed desk", "renamed desk"]
    chinese_after_login = []

    def check(response: Any, status: int = 200) -> None:  # signed in: Chinese although the browser asks for English
        if response.request.path != "/login":  # signing in is before anyone is known
            chinese_after_login.append(response.request.path)
            assert_chinese(response, allowed, status)

    walk(app, pack, EN, check)
    assert len(chinese_after_login) > 20


def test_every_page_speaks_english_by_default_and_to_an_english_browser(app: Flask, pack: Path) -> None:
    walk(app, pack, EN, assert_english)
    assert_english(Browser(app).get("/login"))  # no Accept-Language, no pack language: English
    page = Browser(app, "rita", EN).get("/portal").text
    assert "My tickets" in page and "Sign out" in page and 'lang="zh-CN">中文</button>' in page


def test_the_switch_sets_a_cookie_and_the_signed_in_users_locale(app: Flask) -> None:
    visitor = Browser(app, headers=EN)
    visitor.get("/login")
    switched = visitor.post("/language", {"language": "zh-CN", "next": "/login?next=%2Fportal"})
    assert switched.status_code == 302 and switched.location.endswith("/login?next=%2Fportal")
    cookie = switched.headers["Set-Cookie"]
    assert "itsm_language=zh-CN" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert 'lang="zh-CN"' in visitor.get("/login").text  # the cookie beats Accept-Language
    assert visitor.post("/language", {"language": "en", "next": "https://elsewhere.example/"}).location == "/"
    assert 'lang="en"' in visitor.get("/login").text

    rita = Browser(app, "rita", EN)
    assert 'lang="en"' in rita.get("/portal").text
    assert rita.post("/language", {"language": "zh", "next": "/portal"}).status_code == 302
    with engine_of(app).db.read() as session:
        from itsm.store import users as stored

        assert stored.by_name(session, "rita").locale == "zh-CN"  # type: ignore[union-attr]
    elsewhere = Browser(app, "rita", EN)  # another browser, no cookie: the user's locale
    assert 'lang="zh-CN"' in elsewhere.get("/portal").text
    assert 'lang="en"' in Browser(app, "lars", EN).get("/queue").text


def test_the_switch_refuses_a_post_without_its_token_and_an_unknown_language(app: Flask) -> None:
    visitor = Browser(app, headers=ZH)
    visitor.get("/login")
    forged = visitor.client.post("/language", data={"language": "en"}, headers=ZH)
    assert forged.status_code == 400 and "Set-Cookie" not in forged.headers
    assert "安全令牌" in forged.text and 'lang="zh-CN"' in forged.text  # the error page speaks Chinese too
    unknown = visitor.post("/language", {"language": "fr"})
    assert unknown.status_code == 400 and "zh-CN" in unknown.text


def test_the_plain_503_page_speaks_the_browsers_language(db_url: str) -> None:
    app = create_app({"DATABASE_URL": db_url, "TESTING": True})  # no tables yet: every request answers 503
    chinese = app.test_client().get("/login", headers=ZH)
    assert chinese.status_code == 503 and chinese.headers["Retry-After"] == "5"
    assert 'lang="zh-CN"' in chinese.text and "服务暂不可用" in chinese.text and "itsm db upgrade" in chinese.text
    english = app.test_client().get("/login", headers=EN)
    assert english.status_code == 503 and 'lang="en"' in english.text and "Service unavailable" in english.text
    api = app.test_client().get("/api/health", headers=ZH)
    assert api.status_code == 503 and "数据库" in api.get_json()["message"]


def test_itsm_user_add_takes_a_locale_and_refuses_what_is_not_a_language_tag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from itsm.cli import main
    from itsm.store import Database
    from itsm.store import users as stored

    url = f"sqlite:///{tmp_path / 'itsm.db'}"
    monkeypatch.setenv("ITSM_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(main, ["user", "add", "wang", "--locale", "zh_CN"]).exit_code == 0
    refused = runner.invoke(main, ["user", "add", "li", "--locale", "<b>"])
    assert refused.exit_code == 1 and "not a language tag" in refused.output
    db = Database(url)
    with db.read() as session:
        assert stored.by_name(session, "wang").locale == "zh-CN"  # type: ignore[union-attr]
        assert stored.by_name(session, "li") is None
    db.dispose()


# -- pack text in two languages ------------------------------------------------------------------------

# Labels, titles, names and help of the default pack, in Chinese: the bilingual copy writes each as
# {en: ..., zh-CN: ...} (the pack's name stays plain: the walk renames it).
PACK_ZH = {
    "Incident": "事件", "New": "新建", "Assigned": "已分派", "In progress": "处理中", "On hold": "挂起",
    "Resolved": "已解决", "Closed": "已关闭", "Cancelled": "已取消", "Classify and assign": "分类并分派",
    "Start work": "开始处理", "Resolve": "解决", "Cancel": "取消", "Withdraw": "撤回", "Put on hold": "挂起工单",
    "Short description": "简要描述", "Description": "详细描述", "Reported via": "报告渠道",
    "Self-service portal": "自助门户", "Phone": "电话", "Affected service": "受影响的服务", "Category": "类别",
    "Hardware": "硬件", "Software": "软件", "Network": "网络", "Impact": "影响范围", "Urgency": "紧急程度",
    "Location": "地点", "Service desk": "服务台", "Desktop support": "桌面支持", "Network operations": "网络运维",
}
_BLOCK = re.compile(r"^(\s*(?:- )?(?:label|title|name|help): )(.+)$", re.MULTILINE)
_FLOW = re.compile(r"(label: )(?:\"([^\"]*)\"|([^,{}\"]+))\}")


def _both(text: str) -> str | None:
    zh = PACK_ZH.get(text.strip().strip('"'))
    return None if zh is None else f'{{en: "{text.strip().strip(chr(34))}", zh-CN: "{zh}"}}'


def bilingual(folder: Path) -> None:
    """Write the labels of PACK_ZH in English and Chinese, and declare both languages."""
    for path in folder.rglob("*.yaml"):
        source = path.read_text(encoding="utf-8")
        changed = _BLOCK.sub(lambda m: m.group(1) + (_both(m.group(2)) or m.group(2)), source)
        changed = _FLOW.sub(lambda m: m.group(1) + (_both(m.group(2) or m.group(3)) or m.group(0)[7:-1]) + "}",
                            changed)
        if changed != source:
            path.write_text(changed, encoding="utf-8")
    pack_file = folder / "pack.yaml"
    pack_file.write_text(pack_file.read_text(encoding="utf-8") + "languages: [en, zh-CN]\n", encoding="utf-8")


@pytest.fixture()
def two_languages(db_url: str, tmp_path: Path) -> tuple[Flask, Path]:
    folder = tmp_path / "bilingual"
    shutil.copytree(DEFINITIONS, folder)
    bilingual(folder)
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(folder), "TESTING": True})
    for name, flags in PEOPLE.items():
        add_user(engine_of(app).db, name, password=f"{name}-pw", **flags)
    return app, folder


def test_the_bilingual_copy_is_valid_without_warnings_and_holds_both_languages(tmp_path: Path) -> None:
    from itsm.interpreter import check_pack

    shutil.copytree(DEFINITIONS, tmp_path / "p")
    bilingual(tmp_path / "p")
    spec, problems = check_pack(tmp_path / "p")
    assert spec is not None and not [p for p in problems if "languages list" in p.message]
    assert spec.languages == ("en", "zh-CN") and spec.language == "en"
    new = spec.processes["incident"].state("new").label
    assert (new.get("zh-CN"), new.get("en"), new.get("fr")) == ("新建", "New", "New")
    assert len([t for t in pack_texts(tmp_path / "p", "zh-CN") if t in PACK_ZH.values()]) == len(set(PACK_ZH.values()))


def test_one_ticket_reads_in_chinese_and_in_english(two_languages: tuple[Flask, Path]) -> None:
    app, _ = two_languages
    rita = Browser(app, "rita", EN)
    rita.get("/new/incident")
    created = rita.post("/new/incident", {"short_description": TYPED[0], "location": TYPED[1]})
    assert created.status_code == 302
    path = created.location
    english = read(rita.get(path).text)
    chinese = read(Browser(app, "lars", ZH).get(path).text)
    english_text, chinese_text = " | ".join(english.segments), " | ".join(chinese.segments)
    for en, zh in (("New", "新建"), ("Short description", "简要描述"), ("Location", "地点"), ("Incident", "事件")):
        assert en in english.segments or en in english_text, en
        assert zh in chinese_text, zh
    assert "Short description" not in chinese_text and "简要描述" not in english_text
    classify = f"{path}/transitions/classify"
    form = read(Browser(app, "lars", ZH).get(classify).text)
    assert "硬件" in form.segments and "Hardware" not in form.segments  # choice labels
    assert "分类并分派" in form.segments  # the transition's label
    assert "Hardware" in read(Browser(app, "lars", EN).get(classify).text).segments


def test_every_page_of_a_bilingual_pack_is_english_to_an_english_reader(two_languages: tuple[Flask, Path]) -> None:
    app, folder = two_languages
    walk(app, folder, EN, assert_english)


def test_every_page_of_a_bilingual_pack_shows_its_chinese_labels_to_a_chinese_reader(
        two_languages: tuple[Flask, Path]) -> None:
    app, folder = two_languages
    allowed = pack_texts(folder, "zh-CN") + ["Renamed desk", "renamed desk"]
    english_labels = [en for en in PACK_ZH if len(en) > 8]  # long enough not to be part of another text

    def check(response: Any, status: int = 200) -> None:
        assert_chinese(response, allowed, status)
        shown = read(response.text).segments
        assert not [label for label in english_labels if label in shown], response.request.path

    walk(app, folder, ZH, check)


def test_the_api_serves_form_schemas_processes_and_diagrams_in_the_asked_language(
        two_languages: tuple[Flask, Path]) -> None:
    app, _ = two_languages
    client = app.test_client()
    client.post("/login", data={"name": "lars", "password": "lars-pw"})
    from itsm.engine.people.users import create_token

    token = create_token(engine_of(app).db, "lars")
    auth = {"Authorization": f"Bearer {token}"}
    zh = client.get("/api/forms/incident/schema", headers={**auth, **ZH}).get_json()
    en = client.get("/api/forms/incident/schema", headers={**auth, **EN}).get_json()
    assert (zh["title"], zh["properties"]["short_description"]["title"]) == ("事件", "简要描述")
    assert (en["title"], en["properties"]["short_description"]["title"]) == ("Incident", "Short description")
    assert zh["properties"]["channel"]["enum"] == en["properties"]["channel"]["enum"]  # values stay ids
    process = client.get("/api/processes/incident", headers={**auth, **ZH}).get_json()
    assert {s["id"]: s["label"] for s in process["states"]}["new"] == "新建"
    diagram = client.get("/api/processes/incident/diagram", headers={**auth, **ZH}).text
    assert 'state "新建" as new' in diagram and "分类并分派" in diagram
    assert 'state "New" as new' in client.get("/api/processes/incident/diagram", headers={**auth, **EN}).text
