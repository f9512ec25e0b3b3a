"""The admin area (SPEC 13): the active pack, its diagrams, its validation result, versions and their diff.

Admins may publish (SPEC 9): republish the pack folder the server was started with, or roll back to an
earlier version. The diagrams are Mermaid text; the page renders them with Mermaid's script when the
installation provides one (`ITSM_MERMAID_JS`, a path to mermaid.min.js), else shows the text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext, ngettext

from itsm.engine import EngineError
from itsm.engine.channels.delivery import retry_delivery, troubled_deliveries
from itsm.interpreter.diff import diff_packs
from itsm.interpreter.errors import PackError
from itsm.interpreter.graph import mermaid

from .extension import current_engine, current_watcher
from .i18n import html_lang, said
from .security import admin_required, page_actor

admin = Blueprint("admin", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    app.config.setdefault("MERMAID_JS", os.environ.get("ITSM_MERMAID_JS"))
    app.register_blueprint(admin)


def _pack_folder() -> Path | None:
    folder = current_app.config.get("PACK")
    return Path(folder) if folder else None


@admin.get("/")
@admin_required
def index() -> Any:
    engine = current_engine()
    compiled = engine.definitions.active()
    versions = list(reversed(engine.definitions.versions()))
    folder = _pack_folder()
    problems: list[Any] = []
    checked = False
    if folder is not None:
        from itsm.interpreter.loader import check_pack

        _, problems = check_pack(folder)
        checked = True
    watcher = current_watcher()
    watch_problems = list(watcher.last_problems) if watcher is not None else []
    return render_template("admin.html", compiled=compiled, spec=compiled.pack, versions=versions, folder=folder,
                           problems=problems, checked=checked, watching=watcher is not None,
                           watch_problems=watch_problems)


@admin.get("/deliveries")
@admin_required
def deliveries() -> Any:
    """Messages the worker could not deliver: given up on, or waiting for their next try, with the error."""
    return render_template("admin_deliveries.html", troubles=troubled_deliveries(current_engine()))


@admin.post("/deliveries/<int:message_id>/retry")
@admin_required
def retry(message_id: int) -> Any:
    if retry_delivery(current_engine(), message_id):
        flash(gettext("Message %(id)s will be sent again by the worker.", id=message_id), "success")
    else:
        flash(gettext("Message %(id)s was not given up on: nothing to retry.", id=message_id), "error")
    return redirect(url_for("admin.deliveries"))


@admin.get("/processes/<process_id>")
@admin_required
def process(process_id: str) -> Any:
    spec = current_engine().definitions.active().pack.processes.get(process_id)
    if spec is None:
        abort(404, gettext("There is no process '%(process)s'.", process=process_id))
    return render_template("admin_process.html", process=spec, diagram=mermaid(spec, html_lang()),
                           mermaid_available=bool(current_app.config.get("MERMAID_JS")))


@admin.get("/mermaid.js")
@admin_required
def mermaid_script() -> Any:
    path = current_app.config.get("MERMAID_JS")
    if not path or not Path(path).is_file():
        abort(404, gettext("No Mermaid script is configured (ITSM_MERMAID_JS)."))
    return send_file(Path(path).resolve(), mimetype="text/javascript", max_age=86400)


@admin.get("/diff")
@admin_required
def diff() -> Any:
    engine = current_engine()
    old_id, new_id = request.args.get("old", ""), request.args.get("new", "")
    try:
        old, new = engine.definitions.get(old_id), engine.definitions.get(new_id)
    except EngineError as exc:
        abort(404, said(exc.message))
    changes = diff_packs(old.pack, new.pack)
    return render_template("admin_diff.html", old=old_id, new=new_id, changes=changes)


@admin.post("/publish")
@admin_required
def publish() -> Any:
    folder = _pack_folder()
    if folder is None:
        abort(409, gettext("This server was not started with a pack folder to publish."))
    actor = page_actor()
    try:
        result = current_engine().definitions.publish_path(folder, actor=actor.name if actor else None)
        flash(said(result.message), "success")
    except PackError as exc:
        flash(ngettext("Not published: the pack has %(num)d error (see below).",
                       "Not published: the pack has %(num)d errors (see below).", len(exc.errors)), "error")
    except EngineError as exc:
        flash(gettext("Not published: %(reason)s", reason=said(exc.message)), "error")
    return redirect(url_for("admin.index"))


@admin.post("/rollback")
@admin_required
def rollback() -> Any:
    try:
        actor = page_actor()
        result = current_engine().definitions.rollback(request.form.get("version", ""),
                                                       actor=actor.name if actor else None)
        flash(said(result.message), "success")
    except EngineError as exc:
        flash(gettext("Not rolled back: %(reason)s", reason=said(exc.message)), "error")
    return redirect(url_for("admin.index"))
