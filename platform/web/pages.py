"""What every page shares: the template globals and HTML error pages (the API keeps its JSON errors)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, render_template
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from itsm.engine import EngineError
from itsm.engine.runtime.actors import team_members

from .availability import database_error
from .extension import current_engine
from .formdata import INPUT_TYPES, display, input_value

TITLES = {400: "Bad request", 401: "Please sign in", 403: "Not allowed", 404: "Not found", 409: "Not possible now",
          422: "Please check the form"}


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
        return render_template("error.html", title=TITLES.get(status, "Something went wrong"), message=message), status
    except SQLAlchemyError as exc:  # the page asks for the pack: with the database away, its 503 instead
        return database_error(exc)


def engine_error_page(exc: EngineError) -> tuple[str, int] | Response:
    return error_page(exc.status, exc.message)


def http_error_page(exc: HTTPException) -> tuple[str, int] | Response:
    return error_page(exc.code or 500, exc.description or exc.name)
