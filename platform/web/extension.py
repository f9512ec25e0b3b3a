"""The engine (and the pack watcher) of the running application: one typed accessor for the web layer.

`create_app` installs the engine once; views, hooks and templates read it through `current_engine()`,
never through `current_app.extensions` directly, so the key and the type live in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app

from itsm.engine import Engine

if TYPE_CHECKING:
    from itsm.engine.authoring.watch import PackWatcher

ENGINE = "itsm"
WATCHER = "itsm.watcher"
PROVIDER = "itsm.oidc"  # the Authlib client of the OpenID Connect provider (`sso`), when one is configured


def install(app: Flask, engine: Engine) -> None:
    app.extensions[ENGINE] = engine


def engine_of(app: Flask) -> Engine:
    return cast(Engine, app.extensions[ENGINE])


def current_engine() -> Engine:
    """The engine of the application handling this request."""
    return engine_of(current_app)


def install_watcher(app: Flask, watcher: PackWatcher) -> None:
    """`itsm serve --watch`: the admin page shows what the watcher last published."""
    app.extensions[WATCHER] = watcher


def current_watcher() -> PackWatcher | None:
    return cast("PackWatcher | None", current_app.extensions.get(WATCHER))


def install_provider(app: Flask, client: object) -> None:
    app.extensions[PROVIDER] = client


def current_provider() -> Any:
    """The OpenID Connect client (Authlib's `FlaskOAuth2App`) of this application, or None."""
    return current_app.extensions.get(PROVIDER)
