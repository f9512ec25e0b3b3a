"""Pack text by language (SPEC 15): the fallback order, the schema of a text, the pack's `language` and
`languages`, the warnings of `itsm validate`, templates per language, overlays, and the diagram."""

from __future__ import annotations

from pathlib import Path

import pytest

from itsm.interpreter import check_pack, load_pack
from itsm.interpreter.forms import form_json_schema
from itsm.interpreter.graph import mermaid
from itsm.interpreter.texts import Text, is_language_tag

PACK = """kind: pack
id: two
name: {en: Two desks, zh-CN: 两个服务台}
format: 1
timezone: Asia/Shanghai
LANGUAGES
"""
FORM = """kind: form
id: request
title: {en: Request, zh-CN: 请求}
fields:
  - id: summary
    type: string
    label: {en: Summary, zh-CN: 摘要}
    help: Short and plain
  - id: impact
    type: choice
    label: Impact
    choices:
      - {value: high, label: {en: High, zh-CN: 高}}
      - low
"""
PROCESS = """kind: process
id: request
form: request
initial: open
states:
  - {id: open, label: {zh-CN: 新建, en: New}}
  - {id: done, label: {en: Done}, final: true}
transitions:
  - {id: finish, label: {en: Finish, zh-CN: 完成}, from: open, to: done}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def pack_files(languages: str = "", **extra: str) -> dict[str, str]:
    return {"pack.yaml": PACK.replace("LANGUAGES", languages), "form.yaml": FORM, "process.yaml": PROCESS, **extra}


def lines(problems: list) -> list[str]:  # type: ignore[type-arg]
    return [str(p) for p in problems]


# -- the value --------------------------------------------------------------------------------------------

def test_a_text_falls_back_to_the_asked_language_then_the_packs_then_the_first_given() -> None:
    text = Text((("zh-CN", "新建"), ("en", "New")), language="en")
    assert text.get("zh-CN") == "新建" and text.get("en") == "New"
    assert text.get("zh_CN") == "新建" and text.get("ZH-cn") == "新建"  # a locale's spelling of the tag
    assert text.get("zh") == "新建" and text.get("zh-Hans") == "新建" and text.get("en-GB") == "New"
    assert text.get("fr") == "New" and text.get(None) == "New" and str(text) == "New"  # the pack's language
    only_chinese = Text((("zh-CN", "新建"),), language="en")
    assert only_chinese.get("en") == "新建" and only_chinese.get("fr") == "新建"  # any given one
    assert Text((("de", "Neu"), ("zh-CN", "新建")), language="en").get("en") == "Neu"  # the first given


def test_a_plain_string_is_the_same_text_in_every_language() -> None:
    plain = Text.of("New", "zh-CN")
    assert plain.get("zh-CN") == plain.get("en") == plain.get(None) == "New"
    assert plain.languages == () and plain.has("fr") and bool(plain) and not Text.plain("")
    assert Text.of({"en": "New"}).has("en") and not Text.of({"en": "New"}).has("zh-CN")


def test_language_tags() -> None:
    assert all(is_language_tag(t) for t in ("en", "zh-CN", "zh-Hans-CN", "pt-BR", "es-419"))
    assert not any(is_language_tag(t) for t in ("zh_CN", "EN", "chinese", "", "e", "<b>"))


# -- the compiled pack ------------------------------------------------------------------------------------

def test_every_text_shown_to_people_compiles_with_its_languages(tmp_path: Path) -> None:
    spec = load_pack(write(tmp_path, pack_files()))
    assert spec.language == "en" and spec.languages == ()
    assert (spec.name.get("zh-CN"), spec.name.get("en")) == ("两个服务台", "Two desks")
    form = spec.forms["request"]
    summary, impact = form.field("summary"), form.field("impact")
    assert (form.title.get("zh-CN"), summary.label.get("zh-CN"), summary.help.get("zh-CN")) == ("请求", "摘要",
                                                                                                "Short and plain")
    assert [c.label.get("zh-CN") for c in impact.choices] == ["高", "Low"]
    process = spec.processes["request"]
    assert process.state("open").label.get("en") == "New" and process.state("done").label.get("zh-CN") == "Done"
    assert process.transition("finish").label.get("zh-CN") == "完成"
    schema = form_json_schema(form, "zh-CN")
    assert schema["title"] == "请求" and schema["properties"]["summary"]["title"] == "摘要"
    assert form_json_schema(form)["properties"]["summary"]["title"] == "Summary"


def test_the_packs_language_is_the_fallback_and_the_first_of_languages_by_default(tmp_path: Path) -> None:
    spec = load_pack(write(tmp_path / "a", pack_files("language: zh-CN")))
    assert spec.language == "zh-CN" and spec.processes["request"].state("open").label.get("fr") == "新建"
    listed = load_pack(write(tmp_path / "b", pack_files("languages: [zh-CN, en]")))
    assert listed.language == "zh-CN" and listed.languages == ("zh-CN", "en")


def test_a_language_outside_languages_and_malformed_tags_are_errors_at_their_line(tmp_path: Path) -> None:
    spec, problems = check_pack(write(tmp_path, pack_files("language: fr\nlanguages: [zh-CN, en, zh_TW]")))
    assert spec is None
    assert lines(problems) == [
        "pack.yaml:7:24: error: pack/two: languages[2]: 'zh_TW' is not a language tag: write tags such as "
        "zh-CN or en (language, then region, joined by -)",
    ]
    spec, problems = check_pack(write(tmp_path / "b", pack_files("language: fr\nlanguages: [zh-CN, en]")))
    assert lines([p for p in problems if p.is_error]) == [
        "pack.yaml:6:11: error: pack/two: language: language 'fr' is not one of languages (zh-CN, en): add it "
        "there, or choose one of them"]


def test_a_map_key_that_is_not_a_language_tag_is_an_error_at_its_line(tmp_path: Path) -> None:
    process = PROCESS.replace("{zh-CN: 新建, en: New}", "{zh_CN: 新建, en: New}")
    form = FORM.replace("label: Impact", "label: {}").replace("{en: High, zh-CN: 高}", "{en: 3}")
    _, problems = check_pack(write(tmp_path, pack_files(**{"process.yaml": process, "form.yaml": form})))
    assert lines(problems) == [
        "form.yaml:11:12: error: form/request: fields[1].label: an empty mapping: write the text, or one per "
        "language such as {zh-CN: 新建, en: New}",
        "form.yaml:13:35: error: form/request: fields[1].choices[0].label.en: expected a string, got an integer "
        "(3) (write '3' in quotes for text)",
        "process.yaml:6:24: error: process/request: states[0].label: 'zh_CN' is not a language tag: write tags "
        "such as zh-CN or en (language, then region, joined by -)",
    ]


def test_validate_warns_about_a_map_missing_a_declared_language_not_about_a_plain_string(tmp_path: Path) -> None:
    spec, problems = check_pack(write(tmp_path, pack_files("languages: [en, zh-CN]")))
    assert spec is not None  # warnings only
    assert lines(problems) == ["process.yaml:7:23: warning: process/request: states[1].label: no text in zh-CN, "
                               "which the pack's languages list: readers of zh-CN see 'Done'"]
    # without `languages` nobody is warned: a pack may well be in one language with a few texts in two
    assert check_pack(write(tmp_path / "b", pack_files()))[1] == []


def test_templates_are_checked_in_every_language(tmp_path: Path) -> None:
    notice = """kind: notification
id: done_notice
to: [requester]
subject: {en: "{{ ticket.number }} done", zh-CN: "{{ ticket.number }} 已完成"}
body:
  en: "Done."
  zh-CN: "{{ ticket.number 已完成"
"""
    process = PROCESS.replace("from: open, to: done}", "from: open, to: done, actions: [{notify: done_notice}]}")
    _, problems = check_pack(write(tmp_path, pack_files(**{"process.yaml": process, "notice.yaml": notice})))
    assert len(problems) == 1 and problems[0].path == "body.zh-CN" and problems[0].position.line == 7
    spec = load_pack(write(tmp_path / "b", pack_files(**{"process.yaml": process, "notice.yaml": notice.replace(
        "{{ ticket.number 已完成", "{{ ticket.number }} 已完成")})))
    assert spec.notifications["done_notice"].subject.get("zh-CN") == "{{ ticket.number }} 已完成"


def test_an_overlay_changes_one_language_of_a_label_and_may_change_the_packs_language(tmp_path: Path) -> None:
    base = write(tmp_path / "base", pack_files())
    overlay = write(tmp_path / "client", {
        "pack.yaml": f"kind: pack\nid: client\nformat: 1\nextends: {base}\nlanguage: zh-CN\n",
        "process.yaml": "kind: process\nid: request\nstates:\n  - {id: open, label: {zh-CN: 待处理}}\n",
    })
    spec = load_pack(overlay)
    label = spec.processes["request"].state("open").label
    assert (label.get("zh-CN"), label.get("en")) == ("待处理", "New")  # the base's English kept
    assert spec.language == "zh-CN" and spec.name.get("en") == "Two desks"  # the base's name inherited


def test_the_diagram_in_a_language(tmp_path: Path) -> None:
    process = load_pack(write(tmp_path, pack_files())).processes["request"]
    chinese = mermaid(process, "zh-CN")
    assert 'state "新建" as open' in chinese and "open --> done: (1) 完成" in chinese and "%% 请求" not in chinese
    assert 'state "New" as open' in mermaid(process) and 'state "New" as open' in mermaid(process, "en")


@pytest.mark.parametrize("value", ["x", {"en": "x"}, {"zh-CN": "x", "en": "y"}])
def test_the_editor_schema_accepts_both_forms(value: object) -> None:
    from itsm.interpreter.schema import SCHEMAS
    from itsm.interpreter.validator import SubsetValidator

    state = {"kind": "process", "id": "p", "form": "f", "initial": "a", "states": [{"id": "a", "label": value}]}
    assert SubsetValidator(SCHEMAS["process"]).is_valid(state)
