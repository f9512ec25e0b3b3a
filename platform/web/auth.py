"""Login and logout pages (SPEC 9, 14): a form with the CSRF token, then a fresh signed session.

The form's name and password are checked by `itsm.engine.people.sign_in` (this desk's passwords, then the
directory when `ITSM_LDAP_URL` is set); the page also offers the identity provider's sign-in (`sso`) when
`ITSM_OIDC_ISSUER` is set. Every refusal is a page that says what happened, in the reader's language.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from itsm.engine import Conflict, Forbidden, Unauthorized
from itsm.engine.errors import BadRequest, TooManyAttempts, Unavailable
from itsm.engine.people.sign_in import sign_in

from .extension import current_engine
from .i18n import said
from .security import log_in, log_out, page_actor, safe_next

auth = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(auth)


def login_page(next_path: str, name: str = "", error: str | None = None, status: int = 200) -> tuple[str, int]:
    """The sign-in page, with the identity provider's button when one is configured."""
    provider = current_app.config.get("OIDC")
    return render_template("login.html", next=next_path, name=name, error=error,
                           provider=provider.display_name if provider else None), status


def refusal(exc: Exception, next_path: str, name: str = "", provider: str | None = None) -> tuple[str, int]:
    """The sign-in page saying why a sign-in (by either method) was refused."""
    if isinstance(exc, TooManyAttempts):
        return login_page(next_path, name, ngettext(
            "Too many wrong passwords for this name: try again in %(num)d minute.",
            "Too many wrong passwords for this name: try again in %(num)d minutes.", exc.minutes), 429)
    if isinstance(exc, Forbidden):
        return login_page(next_path, name, gettext("This account is disabled: ask an administrator of the service "
                                                   "desk."), 403)
    if isinstance(exc, Unavailable):
        message = (gettext("%(provider)s cannot be reached at the moment: try again in a few minutes.",
                           provider=provider) if provider else
                   gettext("The directory cannot be reached at the moment: try again in a few minutes."))
        return login_page(next_path, name, message, 503)
    if isinstance(exc, (Conflict, BadRequest)) and not isinstance(exc, Unauthorized):
        return login_page(next_path, name, gettext("Sign-in refused: %(reason)s", reason=said(exc.message)),
                          exc.status)
    return login_page(next_path, name, gettext("Wrong user name or password."), 401)


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = safe_next(request.values.get("next"), url_for("ui.home"))
    if request.method == "GET":
        if page_actor() is not None:
            return redirect(target)
        return login_page(target)
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    engine = current_engine()
    try:
        user = sign_in(engine.db, name, password, engine.clock(), current_app.config.get("LDAP"))
    except (Unauthorized, Forbidden, Unavailable, Conflict, BadRequest) as exc:
        return refusal(exc, target, name)
    log_in(user)
    return redirect(target)


@auth.post("/logout")
def logout() -> Any:
    log_out()
    return redirect(url_for("auth.login"))
