"""The web layer (Flask): the JSON API of SPEC 10 (and, later, the pages of SPEC 13).

`create_app(config)` is the application factory: `gunicorn 'itsm.web:create_app()'` serves it with
several workers, each following the active definitions version through the database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from itsm.engine import Engine
from itsm.store import Database


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        DATABASE_URL=os.environ.get("ITSM_DATABASE_URL"),
        SECRET_KEY=os.environ.get("ITSM_SECRET_KEY") or os.urandom(32),
        PACK=os.environ.get("ITSM_PACK"),
        JSON_SORT_KEYS=False,
    )
    if config:
        app.config.update(config)
    database = Database(app.config["DATABASE_URL"])
    database.ensure_schema()
    engine = Engine(database)
    if app.config.get("PACK"):
        engine.definitions.publish_path(app.config["PACK"])
    app.extensions["itsm"] = engine

    from . import api

    api.init_app(app)
    return app


def engine_of(app: Flask) -> Engine:
    return app.extensions["itsm"]
