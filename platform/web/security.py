"""Web sessions for people (SPEC 9): signed HttpOnly cookies, a CSRF token on every form post.

The session cookie holds the user's name, a stamp derived from their password hash (changing the password
ends every session) and the CSRF token. Flask signs it with the installation's secret (`ITSM_SECRET_KEY`,
or one created once in the database so every gunicorn worker shares it, read on first use: `availability`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, g, redirect, request, session, url_for
from flask_babel import gettext

from itsm.engine import Actor
from itsm.engine.runtime.actors import actor_for
from itsm.store import User
from itsm.store import users as stored_users

from .extension import current_engine

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Scripts only from our own files (app.js, diagram.js, Mermaid): an injected <script> or on* attribute does
# not run. Inline styles stay allowed (the SLA meters' widths, the <style> Mermaid puts in its SVG).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # no framing: a click on a framed ticket page cannot be stolen (clickjacking)
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:

    @app.before_request
    def check_csrf() -> None:
        """Every state-changing request of the pages carries the session's token (the API uses bearer tokens)."""
        if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
            return
        expected = session.get("csrf")
        sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
        if not expected or not hmac.compare_digest(str(expected), sent):
            abort(400, gettext("The form was missing its security token or it has expired. Reload the page and try "
                               "again."))

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.context_processor
    def template_helpers() -> dict[str, Any]:
        return {"csrf_token": csrf_token, "current_actor": g.get("page_actor")}


DEFAULT_SESSION_HOURS = 12.0  # a working day and then some: a copied cookie is not good for a month


def session_lifetime() -> timedelta:
    """How long a sign-in lasts: `ITSM_SESSION_HOURS` (a positive number), else 12 hours."""
    try:
        hours = float(os.environ.get("ITSM_SESSION_HOURS", DEFAULT_SESSION_HOURS))
    except ValueError:
        hours = DEFAULT_SESSION_HOURS
    return timedelta(hours=hours if 0 < hours <= 24 * 366 else DEFAULT_SESSION_HOURS)


def cookie_settings() -> dict[str, Any]:
    """Flask's session cookie as SPEC 9 wants it: HttpOnly, SameSite=Lax, Secure behind HTTPS. Its signature
    is accepted for `session_lifetime()` after it was issued (at sign-in), then the person signs in again."""
    return {"SESSION_COOKIE_NAME": "itsm_session", "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax", "SESSION_COOKIE_SECURE": os.environ.get("ITSM_SECURE_COOKIES") == "1",
            "PERMANENT_SESSION_LIFETIME": session_lifetime()}


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def password_stamp(user: User) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def log_in(user: User) -> None:
    session.clear()  # a new session on login: no fixation of a token an attacker planted before
    session["user"] = user.name
    session["stamp"] = password_stamp(user)
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = False


def log_out() -> None:
    session.clear()


def page_actor() -> Actor | None:
    """The person logged in (under the active pack), or None."""
    if "page_actor" in g:
        return g.page_actor
    name = session.get("user")
    actor = None
    if name:
        engine = current_engine()
        with engine.db.read() as db_session:
            user = stored_users.by_name(db_session, name)
        # a disabled user's session ends at their next request (SPEC 14), as a changed password's does
        if (user is not None and user.active
                and hmac.compare_digest(password_stamp(user), str(session.get("stamp", "")))):
            actor = actor_for(user, engine.definitions.active().pack)
            g.page_locale = user.locale  # the language of their pages (itsm.web.i18n)
            g.page_timezone = user.timezone  # the zone of the times they read (itsm.web.times)
        else:
            session.clear()
    g.page_actor = actor
    return actor


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if page_actor() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        actor = page_actor()
        if actor is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not actor.is_admin:
            abort(403, gettext("The admin area is for administrators."))
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None, default: str) -> str:
    """Only local paths: a login link cannot send people to another site."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
