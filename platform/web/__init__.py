"""The web layer (Flask): the JSON API of SPEC 10 and the pages of SPEC 13.

`create_app(config)` is the application factory: `gunicorn 'itsm.web:create_app()'` serves it with
several workers, each following the active definitions version through the database. Blueprints: `api`
(bearer tokens), `auth` (login), `ui` (portal, queue, ticket pages, forms) and `admin`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from itsm.engine import Engine
from itsm.engine.people.settings import installation_secret
from itsm.store import Database

from .security import cookie_settings

MAX_REQUEST_BYTES = 10 * 2**20  # a bigger body is refused (413) before it is read: no 100 MB JSON in memory


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keys in the order the engine gives them
    app.config.update(
        DATABASE_URL=os.environ.get("ITSM_DATABASE_URL"),
        SECRET_KEY=os.environ.get("ITSM_SECRET_KEY"),
        PACK=os.environ.get("ITSM_PACK"),
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        **cookie_settings(),
    )
    if config:
        app.config.update(config)
    database = Database(app.config["DATABASE_URL"])
    database.ensure_schema()
    engine = Engine(database)
    if not app.config.get("SECRET_KEY"):  # shared by every worker on this database (docs/decisions.md)
        app.config["SECRET_KEY"] = installation_secret(database)
    if app.config.get("PACK"):
        engine.definitions.publish_path(app.config["PACK"])
    app.extensions["itsm"] = engine

    from . import admin, api, auth, dashboard, editor, pages, security, ui

    security.init_app(app)
    api.init_app(app)
    auth.init_app(app)
    ui.init_app(app)
    admin.init_app(app)
    editor.init_app(app)
    dashboard.init_app(app)
    pages.init_app(app)
    return app


def engine_of(app: Flask) -> Engine:
    return app.extensions["itsm"]
