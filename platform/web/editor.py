"""The web editor for process owners (issue 6): matrix cells, SLA targets, routing rules, holidays.

Each changed value becomes one in-place edit of the pack's YAML (`itsm.engine.authoring.editor`: comments, key order
and layout kept, the git diff one line per value), validated with the whole pack, then published. An
edit that would make the pack invalid is undone and its error lines are shown.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from itsm.engine import EngineError
from itsm.engine.authoring.editor import EditRefused, PathPart, edit, find_document, locate_documents
from itsm.interpreter import model as m

from .extension import current_engine
from .i18n import said, text
from .security import admin_required, page_actor

editor = Blueprint("editor", __name__, url_prefix="/admin/editor")


def init_app(app: Flask) -> None:
    app.register_blueprint(editor)


def _folder() -> Path:
    folder = current_app.config.get("PACK")
    if not folder:
        abort(409, gettext("This server was started without a pack folder: there are no files to edit."))
    return Path(folder)


def _pack() -> m.PackSpec:
    return current_engine().definitions.active().pack


def matrix_table(matrix: m.PriorityMatrix) -> tuple[list[str], list[str]] | None:
    """Rows and columns of a two-input matrix in the order the cells were written (None: not two inputs)."""
    if len(matrix.inputs) != 2:
        return None
    rows: list[str] = []
    columns: list[str] = []
    for row, column in matrix.cells:
        if row not in rows:
            rows.append(row)
        if column not in columns:
            columns.append(column)
    return rows, columns


@editor.get("/")
@admin_required
def index() -> Any:
    pack = _pack()
    folder = _folder()
    # documents of a base pack or built in (24x7) are not this folder's to edit
    editable = {key: str(path.relative_to(folder)) for key, (path, _) in locate_documents(folder).items()}
    return render_template("admin_editor.html", spec=pack, editable=editable, matrix_table=matrix_table,
                           teams=sorted(pack.teams.values(), key=lambda t: text(t.name)))


@editor.post("/<kind>/<ident>")
@admin_required
def save(kind: str, ident: str) -> Any:
    pack = _pack()
    edits = _edits(pack, kind, ident)
    if not edits:
        flash(gettext("Nothing changed."), "success")
        return redirect(url_for("editor.index") + f"#{kind}-{ident}")
    folder = _folder()
    try:
        file, _ = find_document(folder, kind, ident)
    except EditRefused:
        abort(404, gettext("%(kind)s '%(id)s' is not defined in this pack folder.", kind=kind, id=ident))
    before = file.read_text(encoding="utf-8")
    spec = None
    try:
        for path, value, append in edits:
            spec = edit(folder, kind, ident, path, value, append=append)
    except EditRefused as exc:
        file.write_text(before, encoding="utf-8")  # all of this form's changes, or none
        details = "; ".join(str(p) for p in exc.problems) or str(exc)
        flash(gettext("Not saved: %(reason)s. %(details)s", reason=str(exc), details=details), "error")
        return redirect(url_for("editor.index") + f"#{kind}-{ident}")
    after = file.read_text(encoding="utf-8")
    changed = sum(1 for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0, lineterm="")
                  if line.startswith("+") and not line.startswith("+++"))
    try:
        actor = page_actor()
        assert spec is not None
        result = current_engine().definitions.publish(spec, actor=actor.name if actor else None)
        flash(ngettext("Saved %(file)s (%(num)d line changed); %(result)s.",
                       "Saved %(file)s (%(num)d lines changed); %(result)s.", changed,
                       file=str(file.relative_to(folder)), result=said(result.message)), "success")
    except EngineError as exc:
        flash(gettext("Saved %(file)s, but not published: %(reason)s", file=str(file.relative_to(folder)),
                      reason=said(exc.message)), "error")
    return redirect(url_for("editor.index") + f"#{kind}-{ident}")


def _edits(pack: m.PackSpec, kind: str, ident: str) -> list[tuple[list[PathPart], Any, bool]]:
    """(path, value, append) for every value of the posted form that differs from the active pack."""
    form = request.form
    edits: list[tuple[list[PathPart], Any, bool]] = []
    if kind == "priority_matrix" and ident in pack.matrices:
        for key, level in pack.matrices[ident].cells.items():  # one value per input: ("high", "low")
            posted = form.get("cell:" + ":".join(key))
            if posted and posted != level:
                edits.append((["matrix", *key], posted, False))
    elif kind == "sla_policy" and ident in pack.sla_policies:
        for clock in pack.sla_policies[ident].clocks:
            for level, duration in clock.targets.items():
                posted = form.get(f"target:{clock.id}:{level}", "").strip()
                if posted and posted != duration.text:
                    edits.append((["clocks", {"id": clock.id}, "targets", level], posted, False))
    elif kind == "routing" and ident in pack.routings:
        for rule in pack.routings[ident].rules:
            if not rule.id:
                continue
            team = form.get(f"team:{rule.id}")
            if team and team != rule.team:
                edits.append((["rules", {"id": rule.id}, "team"], team, False))
            when = form.get(f"when:{rule.id}", "").strip()
            if rule.when is not None and when and when != rule.when.source:
                edits.append((["rules", {"id": rule.id}, "when"], when, False))
    elif kind == "calendar" and ident in pack.calendars:
        day, name = form.get("holiday_date", "").strip(), form.get("holiday_name", "").strip()
        if day:
            holiday = {"id": "d" + day.replace("-", "_"), "date": day, "name": name or gettext("Holiday")}
            edits.append((["holidays"], holiday, True))
    else:
        abort(404, gettext("There is nothing to edit at %(kind)s/%(id)s.", kind=kind, id=ident))
    return edits
