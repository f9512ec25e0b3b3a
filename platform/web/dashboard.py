"""The KPI dashboard (SPEC 13, issue 7): the figures of `GET /api/kpis` as server-drawn SVG charts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from itsm.engine import BadRequest
from itsm.engine.people.org_admin import lineage_of
from itsm.engine.reports.kpi_terms import rating_field
from itsm.engine.reports.kpis import kpi_report

from .api import kpi_csv
from .charts import bar_chart, format_number, histogram, horizontal_bars
from .extension import kpi_engine
from .i18n import clock_label, said, text
from .security import login_required, page_actor
from .times import viewer_zone
from .ui import has_kpis

dashboard_pages = Blueprint("dashboard", __name__)
FILTERS = ("from", "to", "process", "team", "org")
DEFAULT_DAYS = 30  # the period the dashboard opens with: the last 30 days, today included (issue 18)
# The report's own keys as the page says them (pack values, such as a channel field's choices, stay as written)
CHANNELS = {"portal": lazy_gettext("portal"), "api": lazy_gettext("API"), "email": lazy_gettext("email"),
            "monitoring": lazy_gettext("monitoring"), "internal": lazy_gettext("internal"),
            "unknown": lazy_gettext("unknown")}
AGES = {"<1d": lazy_gettext("under 1 day"), "1-3d": lazy_gettext("1-3 days"), "3-7d": lazy_gettext("3-7 days"),
        "7-30d": lazy_gettext("7-30 days"), ">30d": lazy_gettext("over 30 days")}


def init_app(app: Flask) -> None:
    app.register_blueprint(dashboard_pages)


def hours(seconds: float | None) -> str:
    if seconds is None:
        return gettext("n/a")
    if seconds < 3600:
        return gettext("%(minutes).0f min", minutes=seconds / 60)
    return gettext("%(hours).1f h", hours=seconds / 3600)


def number(value: float | None, unit: str = "") -> str:
    return format_number(value, unit, missing=gettext("n/a"))


def reader_days(params: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """The date inputs as the reader's days: `from` their first instant, `to` the first instant after them,
    in the reader's zone (the API takes a bare date as a day in UTC). Anything else goes to the API's checks."""
    query = dict(params)
    for name, after in (("from", 0), ("to", 1)):
        try:
            day = date.fromisoformat(str(params.get(name, "")))
        except ValueError:
            continue
        try:  # wall-clock arithmetic: the next day's midnight, whatever daylight saving time does
            query[name] = (datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(days=after)).isoformat()
        except OverflowError:  # the last day of year 9999: the API says what is wrong with it
            continue
    return query


def _age_labels(by_age: dict[str, int]) -> dict[str, int]:
    return {str(AGES.get(k, k)): v for k, v in by_age.items()}


@dashboard_pages.get("/dashboard")
@login_required
def dashboard() -> Any:
    actor = page_actor()
    assert actor is not None
    if not has_kpis(actor):  # a requester, or a member of teams that work no process
        return redirect(url_for("ui.portal"))
    engine = kpi_engine()
    params: dict[str, Any] = {name: request.args[name].strip() for name in FILTERS if request.args.get(name)}
    default_from = ""
    if "from" not in request.args and "to" not in request.args:  # a recent window; an emptied field: all time
        today = engine.clock().astimezone(viewer_zone()).date()
        default_from = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    query = reader_days({**params, "from": default_from} if default_from else params, viewer_zone())
    error = None
    try:
        report = kpi_report(engine, actor, {**query, "group_by": "org"})
    except BadRequest as exc:
        error, params, query, default_from = said(exc.message), {}, {}, ""
        report = kpi_report(engine, actor, {"group_by": "org"})
    pack = engine.definitions.active().pack
    sla_rows = report["sla"]
    words = {"no_data": gettext("No data"), "missing": gettext("n/a")}
    scope = {k: params[k] for k in ("process", "team", "org") if params.get(k)}  # the queue filtered the same way
    team_label = {k: (text(pack.teams[k].name) if k in pack.teams else k) for k in report["backlog"]["by_team"]}
    charts = {
        "backlog_team": horizontal_bars(gettext("Open tickets by team"), {
            team_label[k]: v for k, v in report["backlog"]["by_team"].items()},
            chart_id="backlog-team", links={label: url_for("ui.queue", **{**scope, "team": k})
                                            for k, label in team_label.items() if k in pack.teams}, **words),
        "backlog_priority": bar_chart(gettext("Open tickets by priority"), report["backlog"]["by_priority"],
                                      chart_id="backlog-priority", links={
                                          str(p): url_for("ui.queue", **scope, priority=p)
                                          for p in report["backlog"]["by_priority"]}, **words),
        "backlog_age": histogram(gettext("Open tickets by age"), _age_labels(report["backlog"]["by_age"]),
                                 chart_id="backlog-age", **words),
        "sla": horizontal_bars(gettext("SLA compliance by clock and priority"), [
            (f"{clock_label(row['clock'])} {row['priority']}", row["compliance_percent"]) for row in sla_rows],
            unit="%", chart_id="sla", **words),
        "satisfaction": histogram(gettext("Satisfaction ratings"), report["satisfaction"]["distribution"],
                                  chart_id="satisfaction", **words),
        "weekly": bar_chart(gettext("Tickets created per week"), [
            (_week_label(line["week"]), line["created"]) for line in report.get("by_week", [])],
            chart_id="weekly", **words),
        "channels": bar_chart(gettext("Tickets by channel"), {
            str(CHANNELS.get(k, k)): v for k, v in report["channels"].items()}, chart_id="channels", **words),
    }
    rated = any(rating_field(pack.forms[pack.processes[p].form]) for p in report["processes"])
    if not rated:  # no form in view asks for a rating: no empty satisfaction tile and chart
        del charts["satisfaction"]
    by_org = report["by_org"] if any(row["org"] for row in report["by_org"]) else []  # no tree: no breakdown
    if by_org:
        charts["by_org"] = horizontal_bars(gettext("Tickets by organization"), [
            (_org_label(row), row["tickets"]["created"]) for row in by_org], chart_id="by-org", links={
                _org_label(row): url_for("ui.queue", **{**scope, "org": row["org"]})
                for row in by_org if row["org"] and not row["own"]}, **words)
    csv_query: dict[str, Any] = {**query, **({"group_by": "org"} if by_org else {})}
    csv_url = url_for("dashboard.kpis_csv", **csv_query)
    here = {k: v for k, v in params.items() if k != "org"}
    return render_template("dashboard.html", report=report, charts=charts, params=params, error=error, rated=rated,
                           default_from=default_from,
                           hours=hours, number=number, csv_url=csv_url, by_org=by_org, here=here,
                           lineage=lineage_of(engine.db, report["org"]) if report["org"] else [],
                           org_label=_org_label, clock_ids=sorted({c for row in by_org for c in row["sla"]}),
                           teams=sorted(pack.teams.values(), key=lambda t: text(t.name)),
                           processes=list(pack.processes.values()))


@dashboard_pages.get("/dashboard/kpis.csv")
@login_required
def kpis_csv() -> Any:
    """The dashboard's "Download CSV": `GET /api/kpis?format=csv` for the signed-in person (the API itself
    takes bearer tokens only, so a browser's session could not download it)."""
    actor = page_actor()
    assert actor is not None
    if not has_kpis(actor):
        return redirect(url_for("ui.portal"))
    return kpi_csv(kpi_report(kpi_engine(), actor, request.args), request.args)


def _week_label(monday: str) -> str:
    """A week of the trend by its Monday, as the reader writes a day: 11-30, or 11月30日 in Chinese."""
    day = date.fromisoformat(monday)
    return gettext("%(month)s/%(day)s", month=day.month, day=day.day)


def _org_label(row: dict[str, Any]) -> str:
    """A breakdown row as the page names it: the organization, its own tickets, or tickets of none."""
    if row["org"] is None:
        return gettext("No organization")
    if row["own"]:
        return gettext("%(name)s itself", name=row["name"] or row["org"])
    return str(row["name"] or row["org"])
