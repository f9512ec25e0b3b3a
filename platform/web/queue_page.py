"""The agents' queue page (SPEC 13, issue 17): most urgent first, sortable columns, views, page numbers,
rows at risk and breached marked, bulk select with assign, transition and comment; the assign forms of
the ticket page and the people look-up of the agent's create form.

Routes of the `ui` blueprint (imported before it is registered). Every change goes through the engine as
the API's do (`Engine.assign`, `bulk_actions.bulk`); forms carry the session's CSRF token.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from itsm.engine import EngineError, ValidationFailed
from itsm.engine.people.lookup import find_people, watcher_candidates
from itsm.engine.runtime.bulk_actions import bulk, common_transitions
from itsm.engine.runtime.queue import SLA_FILTERS, SORTS, default_sort
from itsm.interpreter import model as m

from .api import cursor_kind, decode_queue_cursor, encode_queue_cursor
from .extension import current_engine, search_engine
from .i18n import error_body, said, text
from .security import login_required, page_actor
from .times import viewer_zone
from .ui import is_agent, ui

QUEUE_PAGE = 25
QUEUE_FILTERS = ("process", "state", "team", "priority", "sla", "assignee", "org", "q", "sort", "include_closed",
                 "unassigned")
# The views of the queue (tabs): their name and the filters they set; "all" is the open tickets.
VIEWS: tuple[tuple[str, dict[str, str]], ...] = (
    ("all", {}), ("mine", {"assignee": "me"}), ("unassigned", {"unassigned": "true"}), ("my_teams", {"team": "mine"}),
    ("breached", {"sla": "breached"}), ("at_risk", {"sla": "at_risk"}))
VIEW_KEYS = ("assignee", "unassigned", "team", "sla")
AT_RISK_PERCENT = 75.0  # a running clock of a policy without `warn_at` is at risk from here


def _actor() -> Any:
    actor = page_actor()
    assert actor is not None
    return actor


@ui.app_template_global("sla_summary")
def sla_summary_of(ticket: Mapping[str, Any]) -> dict[str, Any]:
    """`sla_summary` for templates, under the active pack."""
    return sla_summary(ticket, current_engine().definitions.active().pack)


def sla_summary(ticket: Mapping[str, Any], pack: m.PackSpec) -> dict[str, Any]:
    """How a ticket stands against its SLA, for the queue's row marks and the ticket page's banner: `state`
    breached (a running or paused clock past its target), at_risk (a running clock past its first warning,
    or 75% without one), on_track, paused, met, or none; the nearest running deadline and its clock."""
    clocks = ticket.get("sla") or {}
    running = sorted(((c["deadline"], name) for name, c in clocks.items() if c.get("deadline")), key=lambda x: x[0])
    deadline, clock = running[0] if running else (None, None)
    # a clock still counting (or paused): a breached one is shown `breached` until it stops
    live = [(name, c) for name, c in clocks.items()
            if c["status"] in ("running", "paused") or (c["status"] == "breached" and not c.get("stopped_at"))]
    if any(c["breached"] for _, c in live):
        state = "breached"
    elif any(c["status"] == "running" and c.get("percent") is not None and c["percent"] >= _first_warning(pack, name)
             for name, c in live):
        state = "at_risk"
    elif any(c["status"] == "running" for _, c in live):
        state = "on_track"
    elif live:
        state = "paused"
    elif any(c["status"] == "met" for c in clocks.values()):
        state = "met"
    else:
        state = "none"
    return {"state": state, "deadline": deadline, "clock": clock}


@ui.app_template_global("expected_by")
def expected_by(ticket: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a requester is told of the SLA instead of its clocks (docs/decisions.md, "What a requester sees of
    their ticket"): when the desk aims to be done (the latest deadline of its running clocks, normally the
    resolution target) and whether that time has passed; or that the clocks wait (`paused`); None when no
    clock counts any more."""
    clocks = (ticket.get("sla") or {}).values()
    running = [c for c in clocks if c.get("deadline")]
    if running:
        latest = max(running, key=lambda c: datetime.fromisoformat(c["deadline"]))
        return {"deadline": latest["deadline"], "late": bool(latest["breached"]), "paused": False}
    if any(c["status"] == "paused" for c in clocks):
        return {"deadline": None, "late": False, "paused": True}
    return None


def _first_warning(pack: m.PackSpec, clock_id: str) -> float:
    """The lowest `warn_at` of the pack's clocks with this id, in percent (the worker's at-risk mark)."""
    found = [c.warn_at[0] * 100 for p in pack.sla_policies.values() for c in p.clocks if c.id == clock_id and c.warn_at]
    return min(found) if found else AT_RISK_PERCENT


def _view_of(args: Mapping[str, str]) -> str:
    """Which tab the filters amount to (None of them: "all"; something else: "custom")."""
    given = {key: args.get(key, "") for key in VIEW_KEYS if args.get(key)}
    for name, filters in VIEWS:
        if given == filters:
            return name
    return "custom"


@ui.get("/queue")
@login_required
def queue() -> Any:
    actor = _actor()
    if not is_agent(actor):
        return redirect(url_for("ui.portal"))
    filters = {name: request.args.get(name, "").strip() for name in QUEUE_FILTERS}
    if filters["sla"] not in SLA_FILTERS:
        filters["sla"] = ""
    if filters["sort"] not in SORTS:
        filters["sort"] = ""
    for flag in ("include_closed", "unassigned"):
        filters[flag] = "true" if filters[flag] in ("true", "on", "1") else ""
    searching = bool(filters["q"])
    sort = "search" if searching else (filters["sort"] or default_sort(actor))
    kind = cursor_kind(filters, actor)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    cursor = decode_queue_cursor(request.args.get("cursor"), kind)
    before = None if searching else decode_queue_cursor(request.args.get("before"), kind)
    found = search_engine(filters).queue_page(actor, filters, QUEUE_PAGE, cursor, count=True, before=before)
    total = found.total or 0
    pages = max(1, math.ceil(total / QUEUE_PAGE))
    page = min(page, pages)
    args: dict[str, Any] = {k: v for k, v in filters.items() if v}
    next_url = url_for("ui.queue", **args, cursor=encode_queue_cursor(found.next_cursor, kind), page=page + 1) \
        if found.next_cursor is not None else None
    previous_url = None
    if page > 1:
        if page == 2:
            previous_url = url_for("ui.queue", **args)
        elif searching:
            previous_url = url_for("ui.queue", **args, cursor=encode_queue_cursor(max(0, (cursor or 0) - QUEUE_PAGE),
                                                                                   kind), page=page - 1)
        elif found.previous_cursor is not None:
            previous_url = url_for("ui.queue", **args, before=encode_queue_cursor(found.previous_cursor, kind),
                                   page=page - 1)
    pack = current_engine().definitions.active().pack
    states = sorted({(s.id, text(s.label)) for p in pack.processes.values() for s in p.states})
    priorities = sorted({level for mx in pack.matrices.values() for level in mx.level_ids})
    offered = _offered_transitions(found.items, pack)
    return render_template(
        "queue.html", items=found.items, filters=filters, states=states, priorities=priorities,
        teams=sorted(pack.teams.values(), key=lambda t: text(t.name)), sla_filters=SLA_FILTERS, sort=sort,
        sorts=SORTS, views=VIEWS, view=_view_of(filters), total=total, page=page, pages=pages, next_url=next_url,
        previous_url=previous_url, pack=pack, zone=viewer_zone(), summaries=[sla_summary(t, pack) for t in found.items],
        offered=offered, back=request.full_path, people=_agents(pack),
        base_args={k: v for k, v in args.items() if k != "sort"})


def _offered_transitions(items: list[dict[str, Any]], pack: m.PackSpec) -> list[tuple[str, str]]:
    """The transitions the bulk bar offers: those the agent may fire on at least one ticket of the page, with
    their labels (the page's script narrows them to the selection; the server checks every ticket)."""
    seen: dict[str, str] = {}
    for item in items:
        process = pack.processes.get(item["process"])
        for transition_id in item.get("transitions") or ():
            if process is not None and transition_id not in seen:
                seen[transition_id] = text(process.transition(transition_id).label)
    return sorted(seen.items(), key=lambda pair: pair[1])


def _agents(pack: m.PackSpec) -> list[tuple[str, str]]:
    """Every team member, with their first team's name (the bulk bar's person list)."""
    found: dict[str, str] = {}
    for team in sorted(pack.teams.values(), key=lambda t: text(t.name)):
        for member in team.members:
            found.setdefault(member.user, text(team.name))
    return sorted(found.items())


def _back(default: str) -> str:
    """Where a form sends the agent back to: a path of this site (the queue with its filters), never elsewhere."""
    target = request.form.get("back", "")
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc:
        return target
    return default


@ui.post("/queue/bulk")
@login_required
def queue_bulk() -> Any:
    """The bulk bar: assign, transition, comment or link to an outage (each selected ticket becomes a child of
    the outage's ticket, which resolves them with it) on the selected tickets, each in its own transaction. A
    transition is fired only when every selected ticket offers it; otherwise nothing is done and the message
    names the tickets that cannot take it."""
    actor = _actor()
    if not is_agent(actor):
        abort(403)
    back = _back(url_for("ui.queue"))
    numbers = [n for n in request.form.getlist("number") if n.strip()]
    action = request.form.get("action", "")
    if not numbers:
        flash(gettext("Select at least one ticket."), "error")
        return redirect(back)
    params: dict[str, Any] = {}
    if action == "assign":
        target = request.form.get("assign_to", "")
        kind, _, value = target.partition(":")
        if kind == "team":
            params["team"] = value
        elif kind == "user":
            params["assignee"] = actor.name if value == "me" else value
        else:
            flash(gettext("Choose a team or a person to assign the tickets to."), "error")
            return redirect(back)
    elif action == "transition":
        params["transition"] = request.form.get("transition", "")
        params["comment"] = request.form.get("comment", "").strip() or None
        common, each = common_transitions(current_engine(), actor, numbers)
        if params["transition"] not in common:
            cannot = [n for n, offered in each.items() if params["transition"] not in offered]
            flash(gettext("Nothing was changed: %(transition)s does not apply to %(numbers)s.",
                          transition=params["transition"] or "—", numbers=", ".join(cannot)), "error")
            return redirect(back)
    elif action == "comment":
        params["text"] = request.form.get("text", "")
        params["internal"] = request.form.get("internal") == "on"
    elif action == "link":
        params["to"] = request.form.get("to", "").strip().upper()
    try:
        outcome = bulk(current_engine(), actor, numbers, action, params, describe=error_body)
    except EngineError as exc:
        flash(said(exc.message), "error")
        return redirect(back)
    done = [r["number"] for r in outcome["results"] if r["ok"]]
    failed = [r for r in outcome["results"] if not r["ok"]]
    if done:
        flash(ngettext("%(num)s ticket done: %(numbers)s.", "%(num)s tickets done: %(numbers)s.", len(done),
                       numbers=", ".join(done)), "success")
    for result in failed:
        flash(gettext("%(number)s: %(problem)s", number=result["number"], problem=result["message"]), "error")
    return redirect(back)


@ui.post("/tickets/<number>/assign")
@login_required
def assign(number: str) -> Any:
    """Assign to me, to a person (the picker) or to a team, from the ticket page."""
    actor = _actor()
    kind, _, value = request.form.get("assign_to", "").partition(":")
    team = value if kind == "team" else None
    user = (actor.name if value == "me" else value) if kind == "user" else None
    if kind == "member":  # a person of the picker, in the team it showed them with
        team, _, user = value.partition(":")
    try:
        current_engine().assign(actor, number, team, user, request.form.get("version", type=int))
        flash(gettext("Assigned to %(whom)s.", whom=user or team or "—"), "success")
    except ValidationFailed as exc:
        flash(said(exc.message), "error")
    except EngineError as exc:
        if exc.status not in (403, 409):
            raise
        flash(said(exc.message), "error")
    return redirect(url_for("ui.ticket", number=number))


@ui.get("/people")
@login_required
def people() -> Any:
    """The requester picker's look-up (app.js asks while an agent types): name, full name, mail, organization."""
    found = find_people(current_engine(), _actor(), request.args.get("q", ""), limit=10)
    return jsonify([{**person, "label": _person_label(person)} for person in found])


@ui.get("/tickets/<number>/watcher-candidates")
@login_required
def watcher_people(number: str) -> Any:
    """The watchers card's look-up (app.js asks while someone types): who may follow the ticket."""
    found = watcher_candidates(current_engine(), _actor(), number, request.args.get("q", ""), limit=10)
    return jsonify([{**person, "label": _person_label(person)} for person in found])


def _person_label(person: Mapping[str, Any]) -> str:
    parts = [person["full_name"] or person["name"], person["name"] if person["full_name"] else None,
             person["email"], person["org_name"] or person["org"]]
    return " · ".join(str(part) for part in parts if part)
