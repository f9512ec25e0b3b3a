"""The web layer (Flask): the JSON API of SPEC 10 and the pages of SPEC 13.

`create_app(config)` is the application factory: `gunicorn 'itsm.web:create_app()'` serves it with
several workers, each following the active definitions version through the database. Creating it connects to
nothing (SPEC 8): migrating is `itsm db upgrade`, publishing `itsm publish`, and a worker that boots while the
database is away serves 503s until it returns (`availability`). Blueprints: `api` (bearer tokens), `auth`
(login; `sso` for an OpenID Connect provider), `ui` (portal, queue, ticket pages, forms), `attachments`
(files of tickets: the API's and the pages'), `admin`, `i18n` (the language switch; the pages speak zh-CN and
en) and `preferences` (my settings: the time zone pages show times in, `times`).

Attachments are kept in `ATTACHMENTS_DIR` (`ITSM_ATTACHMENTS_DIR`; else beside an SQLite file, else in the
working directory), at most `ATTACHMENT_MAX_BYTES` each (`ITSM_ATTACHMENT_MAX_BYTES`, default 20MiB), of the
types `ATTACHMENT_TYPES` allows (`ITSM_ATTACHMENT_TYPES`, extensions: `itsm.engine.runtime.file_types`).
Links in mail (`{{ links }}`: the ticket's page, one-click rating links) start with `PUBLIC_URL`
(`ITSM_PUBLIC_URL`, e.g. https://desk.example.org); without it mail has no links.
`REPLICA_DATABASE_URL` (`ITSM_REPLICA_DATABASE_URL`, optional): a streaming replica of the database that
search and the suggestions for typed text read (`extension.replica_engine`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from itsm.engine import Engine
from itsm.engine.memory import settle_collector
from itsm.engine.people.directory import DirectorySettings
from itsm.engine.people.oidc import ProviderSettings
from itsm.engine.runtime.file_types import UploadPolicy
from itsm.store import Database
from itsm.store.files import FileStore, default_folder

from .extension import engine_of, install
from .security import cookie_settings

__all__ = ["MAX_REQUEST_BYTES", "create_app", "engine_of"]

MAX_REQUEST_BYTES = 10 * 2**20  # a bigger body is refused (413) before it is read: no 100 MB JSON in memory


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keys in the order the engine gives them
    app.config.update(
        DATABASE_URL=os.environ.get("ITSM_DATABASE_URL"),
        REPLICA_DATABASE_URL=os.environ.get("ITSM_REPLICA_DATABASE_URL"),  # search reads it
        SECRET_KEY=os.environ.get("ITSM_SECRET_KEY"),  # unset: the installation's secret, read on first use
        PACK=os.environ.get("ITSM_PACK"),  # the folder the admin area republishes and the editor edits
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        # sign-in beyond local passwords (SPEC 14, docs/sign-in.md); a setting that cannot work stops the start
        LDAP=DirectorySettings.from_environment(os.environ),
        OIDC=ProviderSettings.from_environment(os.environ),
        ATTACHMENTS_DIR=os.environ.get("ITSM_ATTACHMENTS_DIR"),
        ATTACHMENT_MAX_BYTES=os.environ.get("ITSM_ATTACHMENT_MAX_BYTES"),
        ATTACHMENT_TYPES=os.environ.get("ITSM_ATTACHMENT_TYPES"),
        PUBLIC_URL=os.environ.get("ITSM_PUBLIC_URL"),  # where people open the pages: links in mail
        **cookie_settings(),
    )
    if config:
        app.config.update(config)
    database = Database(app.config["DATABASE_URL"])  # no connection yet
    files = FileStore(app.config["ATTACHMENTS_DIR"] or default_folder(database.url))  # no folder yet
    uploads = UploadPolicy.configured(app.config["ATTACHMENT_MAX_BYTES"], app.config["ATTACHMENT_TYPES"])
    engine = Engine(database, files=files, uploads=uploads, public_url=app.config["PUBLIC_URL"],
                    link_secret=app.config["SECRET_KEY"])
    replica = app.config["REPLICA_DATABASE_URL"]
    install(app, engine, engine.reading_from(Database(replica, read_only=True)) if replica else None)

    from . import (
        admin,
        api,
        attachments,
        auth,
        availability,
        dashboard,
        editor,
        i18n,
        pages,
        preferences,
        security,
        sso,
        times,
        ui,
    )
    from . import admin_people as admin_people  # routes of the admin blueprint
    from . import api_people as api_people  # routes of the api blueprint
    from . import queue_page as queue_page  # routes of the ui blueprint

    availability.init_app(app)  # first: its hook must run before any other reads the session
    i18n.init_app(app)
    times.init_app(app)
    security.init_app(app)
    api_people.init_app(app)  # its routes join the api blueprint before that is registered
    api.init_app(app)
    auth.init_app(app)
    sso.init_app(app)
    ui.init_app(app)
    attachments.init_app(app)
    admin.init_app(app)
    admin_people.init_app(app)
    editor.init_app(app)
    dashboard.init_app(app)
    preferences.init_app(app)
    pages.init_app(app)
    # after the first request the process has imported and compiled what it serves with: from then on the
    # garbage collector leaves that alone and runs less often (docs/scale.md)
    app.teardown_request(lambda _error: settle_collector())
    return app
