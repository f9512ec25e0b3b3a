"""My settings: the time zone a person reads times in (SPEC 15, issue 15); the language has its switch on
every page (`i18n`).

The zone is typed or picked from a list the browser searches as one types (`<datalist>`, no script needed):
this desk's zones first, Asia/Shanghai at the top, then every IANA zone the installation knows. Empty means
the pack's zone, so a desk that moves its pack's zone moves everyone who never chose.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_location, get_timezone_name
from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext

from itsm.engine import BadRequest
from itsm.engine.people.timezones import COMMON_ZONES, check_timezone, suggest_timezone, zone_names
from itsm.engine.people.users import set_timezone

from .extension import current_engine
from .security import login_required, page_actor
from .times import pack_timezone, zone_label

preferences = Blueprint("preferences", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(preferences)


@preferences.get("/settings")
@login_required
def settings() -> Any:
    return _page(g.get("page_timezone") or "")


@preferences.post("/settings")
@login_required
def save_settings() -> Any:
    actor = page_actor()
    assert actor is not None  # login_required ran first
    typed = request.form.get("timezone", "").strip()
    try:
        chosen = check_timezone(typed) if typed else None
    except BadRequest:
        close = suggest_timezone(typed)
        message = (gettext("“%(zone)s” is not a time zone we know. Did you mean %(close)s?", zone=typed[:80],
                           close=close) if close else
                   gettext("“%(zone)s” is not a time zone we know. Choose one from the list, for example "
                           "Asia/Shanghai, or leave the field empty.", zone=typed[:80]))
        return _page(typed, message), 400
    set_timezone(current_engine().db, actor.name, chosen)
    flash(gettext("Saved. Times are now shown in %(zone)s.", zone=chosen) if chosen else
          gettext("Saved. Times are now shown in the desk's time zone, %(zone)s.", zone=pack_timezone() or "UTC"),
          "success")
    return redirect(url_for("preferences.settings"))


def _page(typed: str, error: str | None = None) -> str:
    now = current_engine().clock()
    common = [(name, _zone_name(name, now)) for name in COMMON_ZONES]
    listed = set(COMMON_ZONES)
    return render_template("settings.html", typed=typed, error=error, common=common, now=now,
                           others=[name for name in zone_names() if name not in listed],
                           pack_zone=pack_timezone() or "UTC")


def _zone_name(name: str, now: Any) -> str:
    """`中国（上海）时间 · UTC+8`: where the zone is, in the page's language, and its offset now."""
    zone, locale = ZoneInfo(name), get_locale() or "en"
    where = (get_timezone_name(now.astimezone(zone), width="long", locale=locale) if name == "UTC"  # no place
             else get_timezone_location(zone, locale=locale))
    return f"{where} · {zone_label(now.astimezone(zone))}"
