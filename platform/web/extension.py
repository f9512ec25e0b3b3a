"""The engine (and the pack watcher) of the running application: one typed accessor for the web layer.

`create_app` installs the engine once; views, hooks and templates read it through `current_engine()`,
never through `current_app.extensions` directly, so the key and the type live in one place.

Which database a request reads (issue 18) is decided here too. `current_engine()` reads and writes the
primary. `replica_engine()` reads the read replica (`ITSM_REPLICA_DATABASE_URL`; the primary when unset):
requests that scan history and write nothing use it, through `search_engine()` (full-text search) or
directly (known errors and similar tickets for text being typed). The KPIs choose in `kpi_engine()`. What
a person expects to see right after their own write (a ticket, its suggestions, the plain queue, "my
tickets") stays on the primary: a replica may be behind by the replication lag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app

from itsm.engine import Engine

if TYPE_CHECKING:
    from itsm.engine.authoring.watch import PackWatcher

ENGINE = "itsm"
REPLICA = "itsm.replica"  # the engine reading the read replica; the primary's engine when there is none
WATCHER = "itsm.watcher"
PROVIDER = "itsm.oidc"  # the Authlib client of the OpenID Connect provider (`sso`), when one is configured


def install(app: Flask, engine: Engine, replica: Engine | None = None) -> None:
    """`replica`: `engine` reading the read replica (`Engine.reading_from`), when one is configured."""
    app.extensions[ENGINE] = engine
    app.extensions[REPLICA] = replica or engine


def engine_of(app: Flask) -> Engine:
    return cast(Engine, app.extensions[ENGINE])


def current_engine() -> Engine:
    """The engine of the application handling this request."""
    return engine_of(current_app)


def replica_engine() -> Engine:
    """The engine for requests that scan history and write nothing: it reads the read replica when one is
    configured, else it is `current_engine()`. The same queries run there, so what a person may see is the
    same; the figures may be behind the primary by the replication lag."""
    return cast(Engine, current_app.extensions[REPLICA])


def kpi_engine() -> Engine:
    """The engine `/api/kpis`, its CSV and `/dashboard` compute KPIs with: the primary, because a report first
    folds the tickets changed since the last fold into the per-day sums (a write). Reports read the replica
    when they do not need to write: should the worker alone keep the sums current, return `replica_engine()`
    here (the figures are then as old as the last fold plus the replication lag)."""
    return current_engine()


def search_engine(filters: Mapping[str, Any]) -> Engine:
    """The engine a queue request lists tickets with: a full-text search (`q`) ranks history on the replica;
    the plain queue reads the primary, where an agent sees the ticket they just changed."""
    return replica_engine() if (filters.get("q") or "").strip() else current_engine()


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
