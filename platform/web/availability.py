"""A server that survives its database (SPEC 8): starting needs no database; an outage answers 503.

`create_app` connects to nothing. What a request needs from the database at first (the session secret, the
active definitions) is read on first use, and read again by a later request when that failed. While the
database is away, or has no tables yet, every request answers 503 with `Retry-After` from the one error
handler here: JSON under /api, a plain page elsewhere. Pooled connections are pinged before use, so the
first request after the database returns is served again, without restarting anything.
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask, Request, Response, current_app, g, jsonify, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import lazy_gettext
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.exc import SQLAlchemyError

from itsm.engine.people.settings import installation_secret
from itsm.store import NOT_MIGRATED, UNREACHABLE, outage, outage_line

from .extension import engine_of

RETRY_AFTER_SECONDS = 5
MESSAGES = {
    UNREACHABLE: lazy_gettext("The database cannot be reached at the moment. Try again in a few seconds."),
    NOT_MIGRATED: lazy_gettext("The database has no tables yet: an administrator must run `itsm db upgrade`."),
}
_SESSION_ERROR = "itsm.session_error"  # request.environ key: why the session could not be opened
log = logging.getLogger("itsm.web")


def init_app(app: Flask) -> None:
    """Wire the lazy session secret and the 503 handler in; call it before anything registers hooks."""
    app.session_interface = InstallationSessions()

    @app.before_request
    def report_session_error() -> None:
        """Flask opens the session before any hook, where no error handler sees a failure: raise it here."""
        error = request.environ.pop(_SESSION_ERROR, None)
        if error is not None:
            raise error

    for kind in DATABASE_ERRORS:
        app.register_error_handler(kind, database_error)


def _driver_errors() -> tuple[type[Exception], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite-only installs may drop it
        return ()
    return (psycopg.OperationalError, psycopg.InterfaceError)


def is_page_request() -> bool:
    """A request for a page (HTML errors), not for the JSON API."""
    return not request.path.startswith("/api/") and request.path != "/api"
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.OperationalError, *_driver_errors())


def database_error(exc: Exception) -> Response:
    """503 while the database cannot serve (SPEC 8); anything else stays the 500 of a bug."""
    reason = outage(exc)
    if reason is None:
        raise exc
    log.warning("%s %s: 503, database %s: %s", request.method, request.path, reason.replace("_", " "),
                outage_line(exc))
    return unavailable(reason)


def unavailable(reason: str) -> Response:
    g.itsm_database_down = True  # the language of the answer: the cookie's or the browser's, not the user's
    message = str(MESSAGES[reason])
    if is_page_request():  # no base template: its context would ask the database for the pack
        page = current_app.jinja_env.get_template("unavailable.html").render(message=message)
        response = Response(page, 503, mimetype="text/html")
    else:
        response = jsonify({"error": "unavailable", "message": message, "details": []})
        response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


class InstallationSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, signed with `ITSM_SECRET_KEY` when set (nothing secret is then kept in
    the database); else with the installation's random secret, shared by every worker through the database and
    read when the first request needs it, not when the app is created (docs/decisions.md)."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            app.secret_key = installation_secret(engine_of(app).db)  # read again next time if it failed
        return super().get_signing_serializer(app)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        try:
            return super().open_session(app, request)
        except Exception as exc:  # raised again by report_session_error, where handlers see it
            request.environ[_SESSION_ERROR] = exc
            return None  # Flask's null session for the moment this request lives
