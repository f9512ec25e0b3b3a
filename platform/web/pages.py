"""What every page shares: the template globals and HTML error pages (the API keeps its JSON errors)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, render_template
from flask_babel import lazy_gettext
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from itsm.engine import EngineError
from itsm.engine.runtime.actors import team_members

from .availability import database_error
from .extension import current_engine
from .formdata import INPUT_TYPES, display, input_value
from .i18n import said

TITLES = {400: lazy_gettext("Bad request"), 401: lazy_gettext("Please sign in"), 403: lazy_gettext("Not allowed"),
          404: lazy_gettext("Not found"), 405: lazy_gettext("Not possible here"), 409: lazy_gettext("Not possible now"),
          410: lazy_gettext("Link expired"), 413: lazy_gettext("Too large"), 422: lazy_gettext("Please check the form"),
          429: lazy_gettext("Too many attempts")}
# The pages' words for Werkzeug's own descriptions of these errors (a description given with abort() stays)
DESCRIPTIONS = {
    400: lazy_gettext("The request could not be understood."),
    401: lazy_gettext("Sign in to see this page."),
    403: lazy_gettext("You are not allowed to see this page."),
    404: lazy_gettext("There is no such page. Check the address, or start again from the start page."),
    405: lazy_gettext("This page cannot be used that way."),
    413: lazy_gettext("What was sent is too large."),
    500: lazy_gettext("Something went wrong on our side. Try again in a moment."),
}


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(display=display, input_value=input_value, input_types=INPUT_TYPES,
                                 team_members=team_members)  # a `user` field's suggestions on agents' forms

    @app.context_processor
    def pack_and_endpoints() -> dict[str, Any]:
        try:
            pack = current_engine().definitions.active().pack
        except EngineError:  # nothing published yet
            pack = None
        return {"pack": pack, "view_endpoints": current_app.view_functions}


def error_page(status: int, message: str) -> tuple[str, int] | Response:
    try:
        title = TITLES.get(status) or lazy_gettext("Something went wrong")
        return render_template("error.html", title=str(title), message=message), status
    except SQLAlchemyError as exc:  # the page asks for the pack: with the database away, its 503 instead
        return database_error(exc)


def engine_error_page(exc: EngineError) -> tuple[str, int] | Response:
    return error_page(exc.status, said(exc.message))


def http_error_page(exc: HTTPException) -> tuple[str, int] | Response:
    status = exc.code or 500
    own = exc.description and exc.description != type(exc).description  # abort(404, "no process 'x'")
    return error_page(status, str(exc.description if own else DESCRIPTIONS.get(status) or exc.description or exc.name))
