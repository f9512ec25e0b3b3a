"""The KPI dashboard (SPEC 13, issue 7): the figures of `GET /api/kpis` as server-drawn SVG charts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for

from itsm.engine import BadRequest
from itsm.engine.reports.kpis import kpi_report, rating_field

from .charts import bar_chart, format_number, histogram, horizontal_bars
from .security import login_required, page_actor
from .ui import has_kpis

dashboard_pages = Blueprint("dashboard", __name__)
FILTERS = ("from", "to", "process", "team")


def init_app(app: Flask) -> None:
    app.register_blueprint(dashboard_pages)


def hours(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dashboard_pages.get("/dashboard")
@login_required
def dashboard() -> Any:
    actor = page_actor()
    assert actor is not None
    if not has_kpis(actor):  # a requester, or a member of teams that work no process
        return redirect(url_for("ui.portal"))
    engine = current_app.extensions["itsm"]
    params: dict[str, Any] = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    error = None
    try:
        report = kpi_report(engine, actor, params)
    except BadRequest as exc:
        error, params = exc.message, {}
        report = kpi_report(engine, actor, {})
    pack = engine.definitions.active().pack
    sla_rows = report["sla"]
    charts = {
        "backlog_team": horizontal_bars("Open tickets by team", {
            (pack.teams[k].name if k in pack.teams else k): v for k, v in report["backlog"]["by_team"].items()}),
        "backlog_priority": bar_chart("Open tickets by priority", report["backlog"]["by_priority"]),
        "backlog_age": histogram("Open tickets by age", report["backlog"]["by_age"]),
        "sla": horizontal_bars("SLA compliance by clock and priority", [
            (f"{row['clock']} {row['priority']}", row["compliance_percent"]) for row in sla_rows], unit="%"),
        "satisfaction": histogram("Satisfaction ratings", report["satisfaction"]["distribution"]),
        "channels": bar_chart("Tickets by channel", report["channels"]),
    }
    rated = any(rating_field(pack.forms[pack.processes[p].form]) for p in report["processes"])
    if not rated:  # no form in view asks for a rating: no empty satisfaction tile and chart
        del charts["satisfaction"]
    csv_url = url_for("api.kpis", format="csv", **params)
    return render_template("dashboard.html", report=report, charts=charts, params=params, error=error, rated=rated,
                           hours=hours, number=format_number, csv_url=csv_url,
                           teams=sorted(pack.teams.values(), key=lambda t: t.name),
                           processes=list(pack.processes.values()))
