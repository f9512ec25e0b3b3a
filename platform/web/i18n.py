"""The pages' own text in Simplified Chinese and English (SPEC 15), through Flask-Babel.

The catalogs are `translations/<locale>/LC_MESSAGES/messages.po` in the package; they are compiled in memory
when a language is first used (no `.mo` files to build, commit or keep in step: docs/decisions.md). The
language of a request is the signed-in user's `locale` (the API token's user's for the API), else the language
chosen with the switch on the page (a cookie), else the browser's `Accept-Language`, else the pack's
`language`, else English. The engine's messages are said in it by `said` and `error_body`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from babel import Locale, support
from babel.messages import mofile, pofile
from flask import Blueprint, Flask, abort, current_app, g, has_app_context, redirect, request, url_for
from flask_babel import Babel, Domain, get_locale, gettext, lazy_gettext
from werkzeug.utils import cached_property

from itsm.engine import EngineError
from itsm.engine.errors import say
from itsm.engine.people.users import set_locale
from itsm.interpreter.texts import Text

from .extension import current_engine

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT = "en"
LANGUAGES = {"zh_CN": "zh-CN", "en": "en"}  # catalog folder -> the tag pages and users say (<html lang>)
COOKIE = "itsm_language"
COOKIE_DAYS = 365
# besides Babel's defaults: `pybabel extract -k lazy_gettext -k N_` (babel.cfg); N_ marks the engine's messages
EXTRACT_KEYWORDS = ("lazy_gettext", "N_")

languages = Blueprint("i18n", __name__)

# The engine's own words that pages show (SLA statuses and filters, event kinds, diff actions, pack summary):
# `word(key)` says them in the page's language; anything else (pack ids, a plugin's kinds) as written.
WORDS = {
    "not_started": lazy_gettext("not started"), "running": lazy_gettext("running"), "paused": lazy_gettext("paused"),
    "met": lazy_gettext("met"), "breached": lazy_gettext("breached"), "cancelled": lazy_gettext("cancelled"),
    "at_risk": lazy_gettext("at risk"), "stopped": lazy_gettext("stopped"),
    "added": lazy_gettext("added"), "removed": lazy_gettext("removed"), "changed": lazy_gettext("changed"),
    "processes": lazy_gettext("processes"), "states": lazy_gettext("states"),
    "transitions": lazy_gettext("transitions"), "fields": lazy_gettext("fields"), "teams": lazy_gettext("teams"),
    "clocks": lazy_gettext("clocks"), "link": lazy_gettext("Link"), "review": lazy_gettext("Review"),
    "escalation": lazy_gettext("Escalation"), "notification": lazy_gettext("Notification"),
    "team": lazy_gettext("Team"), "priority": lazy_gettext("Priority"), "assignee": lazy_gettext("Assignee"),
    "requester": lazy_gettext("Requester"),
}


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts: whitespace inside trans blocks
    PoCatalogs(app, locale_selector=select_locale)
    app.register_blueprint(languages)
    app.jinja_env.globals.update(html_lang=html_lang, other_languages=other_languages, word=word,
                                 clock_label=clock_label)
    app.jinja_env.filters["text"] = text


def text(value: object) -> str:
    """Pack text (a label, a title, a name: `Text`) in the page's language: `{{ state.label|text }}`."""
    if isinstance(value, Text):
        return value.get(html_lang())
    return "" if value is None else str(value)


def clock_label(clock_id: object) -> str:
    """An SLA clock's label in the page's language (`response`: 响应时限 / Time to respond), found by its id in
    the active pack's policies; the id as words when no clock has it (a clock a later version removed)."""
    from .availability import DATABASE_ERRORS

    name = str(clock_id)
    try:
        policies = current_engine().definitions.active().pack.sla_policies.values()
    except (EngineError, *DATABASE_ERRORS):
        policies = ()
    for policy in policies:
        for clock in policy.clocks:
            if clock.id == name:
                return text(clock.label)
    return name.replace("_", " ")


def word(key: object) -> str:
    """An engine word (see WORDS) in the page's language; other text as it is, underscores as spaces."""
    text = str(key)
    return str(WORDS.get(text) or text.replace("_", " "))


def said(text: Any) -> Any:
    """An engine message (`itsm.engine.errors.Text`: errors, their details) in this request's language;
    anything else (a pack's text, what people typed, a plugin's plain message) as it is."""
    return say(text, gettext)


def error_body(exc: EngineError) -> dict[str, Any]:
    """The API's error body of `exc` (SPEC 10) in this request's language."""
    return exc.to_dict(gettext)


def catalog_name(tag: str | None) -> str | None:
    """The catalog of a language tag (zh-CN, zh, zh-Hans, zh_CN, en-GB, ...), or None when there is none."""
    if not tag:
        return None
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "zh":
        return "zh_CN"  # the one Chinese catalog: Simplified script, read across the mainland desks
    if parts[0] == "en":
        return "en"
    return None


def negotiate(accepted: Iterable[tuple[str, float]]) -> str | None:
    """The catalog of the most wanted language of an `Accept-Language` that has one (best quality first)."""
    for tag, quality in sorted(accepted, key=lambda item: -item[1]):
        if quality > 0 and (name := catalog_name(tag)) is not None:
            return name
    return None


def select_locale() -> str:
    """The language of this request (see the module docstring); never fails, not even without a database."""
    if not g.get("itsm_database_down"):
        chosen = catalog_name(_user_locale())
        if chosen:
            return chosen
    chosen = catalog_name(request.cookies.get(COOKIE)) or negotiate(request.accept_languages)
    if chosen:
        return chosen
    if not g.get("itsm_database_down"):
        chosen = catalog_name(_pack_language())
    return chosen or DEFAULT


def _user_locale() -> str | None:
    from .availability import DATABASE_ERRORS
    from .security import page_actor

    if "api_locale" in g:  # the API's caller, known by their token (api.authenticated)
        return g.api_locale
    try:
        if page_actor() is None:
            return None
    except EngineError:  # nothing published yet: the browser decides
        return None
    except DATABASE_ERRORS:  # the database is away: the browser decides, and nobody asks it again here
        g.itsm_database_down = True
        return None
    return g.get("page_locale")


def _pack_language() -> str | None:
    """The pack's `language` once packs declare one (the second part of issue 15), else None."""
    from .availability import DATABASE_ERRORS

    try:
        pack = current_engine().definitions.active().pack
    except (EngineError, *DATABASE_ERRORS):
        return None
    language = getattr(pack, "language", None)
    return language if isinstance(language, str) else None


def current_catalog() -> str:
    """The catalog of this request's language (Babel spells zh_CN as zh_Hans_CN once parsed)."""
    locale = get_locale()
    return catalog_name(locale.language if locale is not None else None) or DEFAULT


def html_lang() -> str:
    """`<html lang>`: zh-CN or en."""
    return LANGUAGES[current_catalog()]


def other_languages() -> list[tuple[str, str]]:
    """(tag, name in its own language) of the languages the switch offers: all but the page's."""
    current = current_catalog()
    return [(tag, Locale.parse(name).language_name or tag) for name, tag in LANGUAGES.items() if name != current]


@languages.post("/language")
def switch() -> Any:
    """The switch on every page (a form with the CSRF token): remembered in a cookie, and as the user's
    locale when someone is signed in, so the next sign-in anywhere speaks it too."""
    from .security import page_actor, safe_next

    tag = request.form.get("language", "")
    if catalog_name(tag) is None:
        abort(400, gettext("The pages are in Chinese (zh-CN) and English (en) only."))
    tag = LANGUAGES[catalog_name(tag) or DEFAULT]
    actor = page_actor()
    if actor is not None:
        set_locale(current_engine().db, actor.name, tag)
    response = redirect(safe_next(request.form.get("next"), url_for("ui.home")))
    response.set_cookie(COOKIE, tag, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


class PoDomain(Domain):
    """Flask-Babel's message domain, reading the `.po` sources (compiled once per language and process)."""

    def get_translations(self) -> support.NullTranslations:
        if not has_app_context():
            return support.NullTranslations()
        name = current_catalog()
        translations = self.cache.get(name)
        if translations is None:
            translations = self.cache[name] = compile_catalog(TRANSLATIONS, name)
        return translations


class PoCatalogs(Babel):
    """Flask-Babel with `PoDomain` as its default domain."""

    @cached_property
    def domain_instance(self) -> Domain:
        return PoDomain(domain=self.domain)


def compile_catalog(directory: Path, name: str, domain: str = "messages") -> support.NullTranslations:
    """The translations of one catalog, compiled from its `.po` in memory (fuzzy entries left out, as
    `pybabel compile` does); no catalog: the messages as written in the code."""
    source = directory / name / "LC_MESSAGES" / f"{domain}.po"
    if not source.is_file():
        return support.NullTranslations()
    with source.open("rb") as po:
        catalog = pofile.read_po(po, locale=name, domain=domain)
    compiled = io.BytesIO()
    mofile.write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return support.Translations(compiled, domain=domain)
