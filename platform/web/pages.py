"""What every page shares: the template globals and HTML error pages (the API keeps its JSON errors)."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from itsm.engine import EngineError
from itsm.engine.runtime.actors import team_members

from .formdata import INPUT_TYPES, display, input_value

TITLES = {400: "Bad request", 401: "Please sign in", 403: "Not allowed", 404: "Not found", 409: "Not possible now",
          422: "Please check the form"}


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(display=display, input_value=input_value, input_types=INPUT_TYPES,
                                 team_members=team_members)  # a `user` field's suggestions on agents' forms

    @app.context_processor
    def pack_and_endpoints() -> dict[str, Any]:
        try:
            pack = current_app.extensions["itsm"].definitions.active().pack
        except EngineError:  # nothing published yet
            pack = None
        return {"pack": pack, "view_endpoints": current_app.view_functions}


def is_page_request() -> bool:
    return not request.path.startswith("/api/") and request.path != "/api"


def error_page(status: int, message: str) -> tuple[str, int]:
    return render_template("error.html", title=TITLES.get(status, "Something went wrong"), message=message), status


def engine_error_page(exc: EngineError) -> tuple[str, int]:
    return error_page(exc.status, exc.message)


def http_error_page(exc: HTTPException) -> tuple[str, int]:
    return error_page(exc.code or 500, exc.description or exc.name)
