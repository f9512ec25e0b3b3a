"""Login and logout pages (SPEC 9): a form with the CSRF token, then a fresh signed session."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from itsm.engine import Unauthorized
from itsm.engine.errors import AccountDisabled, TooManyAttempts
from itsm.engine.people.users import authenticate

from .extension import current_engine
from .security import log_in, log_out, page_actor, safe_next

auth = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(auth)


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = safe_next(request.values.get("next"), url_for("ui.home"))
    if request.method == "GET":
        if page_actor() is not None:
            return redirect(target)
        return render_template("login.html", next=target, name="", error=None)
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    engine = current_engine()
    try:
        user = authenticate(engine.db, name, password, engine.clock())
    except TooManyAttempts as exc:
        return render_template("login.html", next=target, name=name, error=ngettext(
            "Too many wrong passwords for this name: try again in %(num)d minute.",
            "Too many wrong passwords for this name: try again in %(num)d minutes.", exc.minutes)), 429
    except Unauthorized:
        return render_template("login.html", next=target, name=name,
                               error=gettext("Wrong user name or password.")), 401
    except AccountDisabled:
        return render_template("login.html", next=target, name=name,
                               error=gettext("This account is disabled. Ask an administrator to enable it.")), 403
    log_in(user)
    return redirect(target)


@auth.post("/logout")
def logout() -> Any:
    log_out()
    return redirect(url_for("auth.login"))
