"""The catalogs hold every message of the pages (SPEC 15): extracted from the code and templates with Babel's
own extractor and babel.cfg, each must be in messages.pot and in both catalogs, translated in zh_CN (not
fuzzy, the same placeholders), and no catalog keeps a message the code no longer says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages import frontend, pofile
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

from itsm.web.i18n import EXTRACT_KEYWORDS, LANGUAGES, TRANSLATIONS, compile_catalog

ROOT = Path(__file__).resolve().parents[3]
PLACEHOLDER = re.compile(r"%(?:\([a-z_]+\))?[-#0 +]*\d*(?:\.\d+)?[sdf%]")
Key = tuple[str | None, str]


def extracted() -> dict[Key, tuple[str, ...]]:
    """(context, msgid) -> every form (singular, plural) of each message the code and templates say."""
    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse(config)
    keywords = {**DEFAULT_KEYWORDS, **dict.fromkeys(EXTRACT_KEYWORDS)}
    messages: dict[Key, tuple[str, ...]] = {}
    for _file, _line, message, _comments, context in extract_from_dir(ROOT, method_map, options_map, keywords):
        forms = (message,) if isinstance(message, str) else tuple(message)
        messages[(context, forms[0])] = forms
    return messages


def catalog(path: Path) -> Catalog:
    with path.open("rb") as source:
        return pofile.read_po(source)


def keys(cat: Catalog) -> set[Key]:
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in cat if m.id}


def test_the_extraction_finds_the_pages_messages() -> None:
    found = extracted()
    assert len(found) > 200
    for text in ("Sign in", "My tickets", "Service unavailable", "Open tickets by team", "Edit the pack",
                 "The form was missing its security token or it has expired. Reload the page and try again."):
        assert (None, text) in found, text
    # the engine's messages (N_ in platform/engine and platform/web: babel.cfg, docs/translating.md)
    for text in ("no ticket %(number)s", "%(field)s is required", "the body must be a JSON object",
                 "'%(transition)s' needs one of these roles: %(roles)s", "wrong user name or password"):
        assert (None, text) in found, text


def test_werkzeugs_descriptions_keep_their_english_words() -> None:
    from werkzeug.exceptions import default_exceptions

    from itsm.web.api import WERKZEUG_DESCRIPTIONS

    for status, text in WERKZEUG_DESCRIPTIONS.items():
        assert text._args[0] == default_exceptions[status].description, status


CATALOGS = [TRANSLATIONS / "messages.pot", *(TRANSLATIONS / name / "LC_MESSAGES" / "messages.po" for name in LANGUAGES)]


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: str(p.relative_to(TRANSLATIONS)))
def test_every_message_is_in_the_catalog_and_nothing_else(path: Path) -> None:
    code, held = set(extracted()), keys(catalog(path))
    assert not code - held, f"missing from {path.name} (run pybabel extract/update, docs/translating.md)"
    assert not held - code, f"{path.name} keeps messages the code no longer says"


@pytest.mark.parametrize("name", list(LANGUAGES))
def test_every_message_is_translated_with_the_same_placeholders(name: str) -> None:
    cat = catalog(TRANSLATIONS / name / "LC_MESSAGES" / "messages.po")
    problems = []
    for message in cat:
        if not message.id:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        strings = (message.string,) if isinstance(message.string, str) else tuple(message.string)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
            continue
        wanted = sorted(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            if sorted(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"placeholders differ: {ids[0]!r} -> {string!r}")
    assert not problems, "\n".join(problems)


def test_the_chinese_catalog_speaks_chinese() -> None:
    cat = catalog(TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po")
    cjk = re.compile(r"[\u4e00-\u9fff]")
    strings = [m.string if isinstance(m.string, str) else m.string[0] for m in cat if m.id]
    # punctuation between placeholders ("%(field)s：%(problem)s", "；") is written the Chinese way, not in words
    strings = [s for s in strings if any(char.isalpha() for char in PLACEHOLDER.sub("", s))]
    chinese = [s for s in strings if cjk.search(s)]
    assert len(chinese) >= len(strings) - 3  # "SLA" and the like may stay as they are
    assert cat.plural_forms == "nplurals=1; plural=0;"


def test_catalogs_compile_in_memory_and_a_missing_one_falls_back_to_the_code() -> None:
    zh = compile_catalog(TRANSLATIONS, "zh_CN")
    assert zh.gettext("Sign in") == "登录"
    assert zh.ngettext("%(num)d rating", "%(num)d ratings", 3) == "%(num)d 条评价"
    assert zh.pgettext("short for days", "d") == "天"
    assert compile_catalog(TRANSLATIONS, "fr").gettext("Sign in") == "Sign in"


def test_fuzzy_entries_are_left_out_when_compiling(tmp_path: Path) -> None:
    folder = tmp_path / "zh_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        '#, fuzzy\nmsgid "Sign in"\nmsgstr "登录"\n\nmsgid "Queue"\nmsgstr "工单队列"\n', encoding="utf-8")
    compiled = compile_catalog(tmp_path, "zh_CN")
    assert compiled.gettext("Sign in") == "Sign in" and compiled.gettext("Queue") == "工单队列"
