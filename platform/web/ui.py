"""The pages of SPEC 13 for requesters and agents: portal, queue, ticket page, generated forms.

Server-rendered (Jinja, autoescaped) and usable without JavaScript; `static/app.js` only adds the live
SLA countdowns and re-asks the server for the field rules while a form is being filled in. Every change
goes through the engine exactly as the JSON API's do, so the rules are enforced in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from itsm.engine import Actor, EngineError, Forbidden, ValidationFailed
from itsm.engine.people.lookup import assignee_candidates
from itsm.engine.reports.known_errors import links, suggest_for_ticket
from itsm.engine.reports.outages import offered_outages
from itsm.engine.reports.triage import similar, triage_ticket
from itsm.engine.runtime.actors import agent_processes
from itsm.engine.runtime.attachments import attachments_of, create_with, receiving
from itsm.engine.runtime.documents import document_fields, title_of
from itsm.engine.runtime.forms import Form
from itsm.engine.runtime.linking import link
from itsm.engine.runtime.rating_links import LinkRefused
from itsm.engine.runtime.reviews import request_review, review_transition
from itsm.interpreter import model as m
from itsm.interpreter.graph import happy_path
from itsm.store import orgs

from .api import decode_queue_cursor, encode_queue_cursor
from .attachments import MAX_FILES, chosen_files, receive_all, takes_files
from .extension import current_engine, replica_engine
from .formdata import parse_form
from .i18n import said, text
from .security import login_required, page_actor
from .times import viewer_zone

ui = Blueprint("ui", __name__)
QUEUE_PAGE = 25


def init_app(app: Flask) -> None:
    app.register_blueprint(ui)  # queue_page's routes and its `sla_summary` global were added to it on import
    app.jinja_env.globals.update(is_agent=is_agent, has_kpis=has_kpis, ticket_title=ticket_title,
                                 prose_fields=prose_fields, choice_label=choice_label, team_name=team_name,
                                 awaits_requester=awaits_requester)


def awaits_requester(process: m.ProcessSpec | None, transitions: list[str]) -> bool:
    """The portal's "your answer is needed": the reader may move the ticket on (answer, confirm, reopen), not
    merely withdraw it (a transition into a state that ends it unresolved is always offered, and waits for
    nobody): docs/decisions.md, "Your answer is needed"."""
    if process is None:
        return False
    for transition_id in transitions:
        transition = process.transition_by_id.get(transition_id)
        if transition is not None and not process.state(transition.target).cancels:
            return True
    return False


def _pack() -> m.PackSpec:
    return current_engine().definitions.active().pack


def _zone() -> ZoneInfo:
    """The reader's zone: datetime fields are shown in it, and a time typed into a form means it."""
    return viewer_zone()


def _actor() -> Actor:
    actor = page_actor()
    assert actor is not None  # login_required ran first
    return actor


def is_agent(actor: Actor | None) -> bool:
    return actor is not None and (actor.is_admin or bool(actor.teams))


def has_kpis(actor: Actor | None) -> bool:
    """Whether the dashboard has figures for `actor`: admins, and agents of at least one process."""
    if actor is None or not is_agent(actor):
        return False
    return actor.is_admin or bool(agent_processes(actor, _pack()))


def ticket_title(ticket: Mapping[str, Any]) -> str:
    """A ticket's title on the pages (a ticket as the engine shows it): see `known_errors.title_of`."""
    pack = _pack()
    process = pack.processes.get(ticket.get("process", ""))
    return title_of(pack.forms[process.form], ticket.get("fields") or {}) if process is not None else ""


def prose_fields(process: m.ProcessSpec) -> tuple[str, ...]:
    """The fields whose text asks for known errors while a create form is filled in: the form's title and
    body fields (`known_errors.document_fields`), what search indexes."""
    title, body = document_fields(_pack().forms[process.form])
    return (title, *body) if title else body


def choice_label(spec: m.FieldSpec, value: str) -> str:
    """The label of a choice in the page's language (the value itself when the form no longer has it)."""
    found = next((c for c in spec.choices if c.value == value), None)
    return text(found.label) if found is not None else value


def team_name(team_id: str | None) -> str:
    team = _pack().teams.get(team_id or "")
    return text(team.name) if team is not None else (team_id or "—")


def _triage(actor: Actor, number: str) -> dict[str, Any] | None:
    """Triage suggestions and similar tickets for a ticket's page or an agent's form (SPEC 16); a failure
    leaves them out rather than the page."""
    try:
        return triage_ticket(current_engine(), actor, number)
    except EngineError:
        return None


def reportable(pack: m.PackSpec) -> list[m.ProcessSpec]:
    """Processes people open themselves: those no other process creates through a `create` action."""
    created = {a.process for p in pack.processes.values() for a in _all_actions(p) if isinstance(a, m.CreateAction)}
    return [p for p in pack.processes.values() if p.id not in created]


def _all_actions(process: m.ProcessSpec) -> list[m.Action]:
    actions: list[m.Action] = []
    for state in process.states:
        actions += [*state.on_enter, *state.on_exit]
    for transition in process.transitions:
        actions += transition.actions
    return actions


# -- home, portal, queue ------------------------------------------------------------------------------

@ui.get("/")
@login_required
def home() -> Any:
    return redirect(url_for("ui.queue") if is_agent(_actor()) else url_for("ui.portal"))


@ui.get("/portal")
@login_required
def portal() -> Any:
    """The requester's tickets; for an organization's contact (SPEC 14) also, as a second view, the tickets
    of its organization and the organizations under it (`view=org`)."""
    actor = _actor()
    cursor = decode_queue_cursor(request.args.get("cursor"), "id")
    org_name = _org_name(actor.org) if actor.org_contact and actor.org else None
    view = "org" if org_name is not None and request.args.get("view") == "org" else "mine"
    # the requester's own tickets, closed ones too, newest first (whatever an agent's queue defaults to)
    filters = {"org": actor.org} if view == "org" else {"requester": actor.name}
    filters.update(sort="-created", include_closed="true")
    items, next_id = current_engine().list_tickets(actor, filters, QUEUE_PAGE, cursor)
    return render_template("portal.html", items=items, next_cursor=encode_queue_cursor(next_id, "id"),
                           processes=reportable(_pack()), pack=_pack(), zone=_zone(), view=view, org_name=org_name)


def _org_name(org: str) -> str | None:
    """An organization's name, None when it does not exist (any more)."""
    with current_engine().db.read() as session:
        return orgs.names_of(session, [org]).get(org)


# -- the ticket page ----------------------------------------------------------------------------------

@ui.get("/tickets/<number>")
@login_required
def ticket(number: str) -> Any:
    actor = _actor()
    engine = current_engine()
    view = engine.get(actor, number)
    events = engine.events(actor, number)
    pack = _pack()
    process = pack.processes[view["process"]]
    form = pack.forms[process.form]
    state = process.state_by_id.get(view["state"])
    hidden = {f for f, flag in (state.fields.items() if state else ()) if flag.hidden}
    shown = [(spec, view["fields"].get(spec.id)) for spec in form.fields
             if spec.id not in hidden and view["fields"].get(spec.id) not in (None, "", [])]
    transitions = forward_first(process, view["state"], [process.transition(t) for t in view["transitions"]])
    known = suggest_for_ticket(engine, actor, number) if not (state and state.cancels) else []
    agent = is_agent(actor)
    works_on = agent and engine.works_on(actor, number)
    candidates = assignee_candidates(engine, actor, number) if works_on and view_is_open(process, view) else []
    step = one_step(engine, actor, process, view, transitions) if not works_on else None
    return render_template("ticket.html", t=view, process=process, form=form, state=state, shown=shown,
                           step=step, step_values=step.ticket["fields"] if step and step.ticket else {},
                           step_comment=step is not None and not has_own_text(step),
                           events=events, transitions=transitions, pack=pack, zone=_zone(), agent=agent,
                           known_errors=known, attachments=attachments_of(engine, actor, number),
                           triage=_triage(actor, number), candidates=candidates, may_assign=bool(candidates),
                           watchers=engine.watchers(actor, number), linked=links(engine, actor, number),
                           may_edit_watchers=is_agent(actor) or view["requester"] == actor.name)


def forward_first(process: m.ProcessSpec, state: str,
                  transitions: list[m.TransitionSpec]) -> list[m.TransitionSpec]:
    """The ticket page's steps with those that move the ticket on along its happy path first (the primary
    button): "confirm and close" before "reopen" on a resolved ticket. Otherwise the process's order."""
    ahead = _ahead(process, state)
    return [t for t in transitions if t.target in ahead] + [t for t in transitions if t.target not in ahead]


def _ahead(process: m.ProcessSpec, state: str) -> set[str]:
    """The states after `state` on the process's happy path."""
    path = list(process.happy_path) or happy_path(process)
    return set(path[path.index(state) + 1:]) if state in path else set()


def one_step(engine: Any, actor: Actor, process: m.ProcessSpec, view: Mapping[str, Any],
             transitions: list[m.TransitionSpec]) -> Form | None:
    """The form of the step a requester is waiting to take, shown on the ticket page itself (one click:
    "confirm and close" with the rating): the first step when it moves the ticket on along its happy path."""
    if not transitions or transitions[0].target not in _ahead(process, view["state"]):
        return None
    try:
        return engine.form(actor, number=view["number"], transition=transitions[0].id)
    except EngineError:
        return None


def view_is_open(process: m.ProcessSpec, view: Mapping[str, Any]) -> bool:
    state = process.state_by_id.get(view["state"])
    return state is not None and not state.final


@ui.post("/tickets/<number>/watchers")
@login_required
def watchers(number: str) -> Any:
    """Add a watcher (`user`), or remove one (`remove`): the ticket page's watchers card."""
    removed = request.form.get("remove", "").strip()
    user = removed or request.form.get("user", "").strip()
    try:
        current_engine().watch(_actor(), number, user, follow=not removed)
        flash(gettext("%(user)s no longer follows this ticket.", user=user) if removed
              else gettext("%(user)s now follows this ticket.", user=user), "success")
    except (ValidationFailed, Forbidden) as exc:
        flash(said(exc.message), "error")
    return redirect(url_for("ui.ticket", number=number) + "#watchers")


@ui.post("/tickets/<number>/links")
@login_required
def link_known_error(number: str) -> Any:
    """One click on a suggestion: link it as a known error of this ticket (again changes nothing)."""
    target = request.form.get("to", "")
    try:
        _, created = link(current_engine(), _actor(), number, target)
        flash(gettext("Linked %(number)s as a known error.", number=target) if created
              else gettext("%(number)s was linked already.", number=target), "success")
    except ValidationFailed as exc:
        flash(said(exc.message), "error")
    return redirect(url_for("ui.ticket", number=number) + "#known-errors")


@ui.post("/tickets/<number>/comments")
@login_required
def comment(number: str) -> Any:
    text = request.form.get("text", "")
    internal = request.form.get("internal") == "on"
    try:
        current_engine().comment(_actor(), number, text, internal)
        flash(gettext("Comment added."), "success")
    except ValidationFailed as exc:
        flash(said(exc.message), "error")
    return redirect(url_for("ui.ticket", number=number) + "#timeline")


# -- generated forms --------------------------------------------------------------------------------

@ui.route("/new/<process_id>", methods=["GET", "POST"])
@login_required
@takes_files(MAX_FILES)
def new_ticket(process_id: str) -> Any:
    """The create form; files chosen with it (a screenshot) are attached to the new ticket in its transaction."""
    actor = _actor()
    engine = current_engine()
    form = engine.form(actor, process=process_id)
    if request.method == "GET":
        return _render_form(form, {}, [])
    values, problems = _posted(form)
    chosen = chosen_files()
    if not problems:
        with receiving(engine) as uploads:
            problems = [{"field": "", "message": problem} for problem in receive_all(chosen, uploads)]
            try:
                if not problems:
                    requester = request.form.get("_requester", "").strip() or None
                    created = create_with(engine, actor, process_id, values, uploads, channel="portal",
                                          requester=requester)
                    flash(gettext("%(number)s recorded. We will keep you posted here.", number=created["number"]),
                          "success")
                    _attach_to_outage(engine, actor, created["number"], request.form.get("_outage", "").strip())
                    return redirect(url_for("ui.ticket", number=created["number"]))
            except ValidationFailed as exc:
                problems = exc.details or [{"field": "", "message": exc.message}]
    if chosen:  # a browser never fills in a file input again
        problems.append({"field": "", "message": gettext("Choose your files again before you send the form.")})
    return _render_form(engine.form(actor, process=process_id, values=values), values, problems, 422)


@ui.route("/tickets/<number>/transitions/<transition_id>", methods=["GET", "POST"])
@login_required
def transition(number: str, transition_id: str) -> Any:
    actor = _actor()
    engine = current_engine()
    form = engine.form(actor, number=number, transition=transition_id)
    if request.method == "GET":
        taken = _taken(form)  # a suggestion taken without JavaScript: ?category=hardware
        if taken:
            form = engine.form(actor, number=number, transition=transition_id, values=taken)
        return _render_form(form, taken, [])
    values, problems = _posted(form, current=form.ticket["fields"] if form.ticket else None)
    comment_text = request.form.get("comment", "").strip() or None
    version = request.form.get("version", type=int)
    opens_review = review_transition(form.process)
    if not problems and opens_review is not None and opens_review[0].id == transition_id:
        # the one-click review: the same operation as POST /api/tickets/N/review (assignee, `review` event)
        try:
            review = request_review(engine, actor, number, version)
            if comment_text:
                engine.comment(actor, number, comment_text)
            flash(gettext("%(review)s opened: the post-incident review of %(number)s.", review=review["number"],
                          number=number), "success")
            return redirect(url_for("ui.ticket", number=review["number"]))
        except EngineError as exc:
            if exc.status != 409:
                raise
            problems = [{"field": "", "message": exc.message}]
    if not problems:
        try:
            engine.fire(actor, number, transition_id, values, comment_text, version)
            flash(gettext("%(step)s: done.", step=text(form.transition.label) if form.transition else transition_id),
                  "success")
            return redirect(url_for("ui.ticket", number=number))
        except ValidationFailed as exc:
            problems = exc.details or [{"field": "", "message": exc.message}]
        except EngineError as exc:
            if exc.status != 409:
                raise
            problems = [{"field": "", "message": exc.message}]
    again = engine.form(actor, number=number, transition=transition_id, values=values)
    return _render_form(again, values, problems, 422 if problems and problems[0]["field"] else 409)


@ui.get("/rate/<token>")
@login_required
def rate(token: str) -> Any:
    """A one-click rating link from the resolved mail: the confirm form with the rating chosen, for the person
    the link was sent to, once signed in. Nothing changes until they send the form."""
    actor = _actor()
    engine = current_engine()
    try:
        link = engine.rating_link(token)
    except LinkRefused as exc:
        if exc.reason == "expired" and exc.link is not None:
            abort(410, gettext("This rating link has expired. Open %(number)s from your tickets to confirm or "
                               "reopen it.", number=exc.link.number))
        abort(400, gettext("This rating link is not valid. Open the ticket from your tickets instead."))
    if link.user != actor.name:
        abort(403, gettext("This rating link was sent to someone else. Sign in as the person who got the mail."))
    values = {link.field: link.value}
    form = engine.form(actor, number=link.number, transition=link.transition, values=values)
    return _render_form(form, values, [])


@ui.post("/forms/state")
@login_required
def form_state() -> Any:
    """The field rules for the values typed so far (app.js asks while a form is filled in)."""
    actor = _actor()
    number = request.form.get("_number") or None
    process_id = request.form.get("_process") or None
    transition_id = request.form.get("_transition") or None
    if number is None and process_id is None:
        abort(400, gettext("Name a process or a ticket."))
    engine = current_engine()
    form = engine.form(actor, process=process_id, number=number, transition=transition_id)
    values, _ = _posted(form, current=form.ticket["fields"] if form.ticket else None)
    return jsonify(engine.form(actor, process=process_id, number=number, transition=transition_id,
                               values=values).states())


@ui.post("/forms/suggestions")
@login_required
def form_suggestions() -> Any:
    """Similar solved tickets for what is being typed into a create form (app.js asks, debounced): those the
    person may see (SPEC 16), most similar first, with how similar and their state in the page's language."""
    process = _pack().processes.get(request.form.get("_process") or "")
    if process is None:
        return jsonify([])
    engine = replica_engine()
    with engine.db.read() as session:
        served = engine.triage.current(session, process.id)
    items = similar(engine, _actor(), process, _typed(process), served, solved_only=True)
    states = process.state_by_id
    return jsonify([{"number": i["number"], "title": i["title"],
                     "state": text(states[i["state"]].label) if i["state"] in states else i["state"],
                     "similarity": gettext("%(percent)s%% similar", percent=round(i["score"] * 100)),
                     "url": url_for("ui.ticket", number=i["number"])} for i in items])


@ui.post("/forms/outages")
@login_required
def form_outages() -> Any:
    """The agent's create form: the ongoing outages, those like what is being typed first (app.js asks,
    debounced, and regroups the picker)."""
    process = _pack().processes.get(request.form.get("_process") or "")
    found = _outages(process) if process is not None and is_agent(_actor()) else None
    return jsonify(found or {"matching": [], "other": []})


def _typed(process: m.ProcessSpec) -> str:
    """What has been typed into a create form's prose fields (title and body), what similarity reads."""
    return "\n".join(request.form.get(name, "") for name in prose_fields(process))[:4000]


def _posted(form: Form, current: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, str]]]:
    editable = [state.spec for state in form.fields if not state.readonly]
    lists = {key: request.form.getlist(key) for key in request.form}
    return parse_form(editable, request.form, lists, _zone(), current)


def _suggested_fields(form: Form) -> tuple[str, ...]:
    """The fields of a transition form the process's triage suggests values for (agents only)."""
    triage = form.process.triage
    if triage is None or form.ticket is None or not is_agent(_actor()):
        return ()
    offered = {state.spec.id for state in form.fields if not state.readonly}
    return tuple(name for name in triage.fields if name in offered)


def _taken(form: Form) -> dict[str, Any]:
    """Values of suggested fields given in the query string (one click on a suggestion, without JavaScript)."""
    specs = {state.spec.id: state.spec for state in form.fields}
    return {name: value for name in _suggested_fields(form)
            if (value := request.args.get(name)) and value in specs[name].choice_values}


def _attach_to_outage(engine: Any, actor: Actor, number: str, outage: str) -> None:
    """The create form's "part of an ongoing outage": the new ticket becomes a child of that one (the ticket
    is kept when the link is refused, with the reason said)."""
    if not outage:
        return
    try:
        link(engine, actor, number, outage, "parent")
        flash(gettext("%(number)s is part of the outage %(outage)s: it is resolved with it.", number=number,
                      outage=outage), "success")
    except EngineError as exc:
        flash(said(exc.message), "error")


def has_own_text(form: Form) -> bool:
    """A requester's transition form with a text of its own (the feedback on a rating, why it is not solved)
    needs no second box for a comment: one form, the transition's fields (docs/decisions.md)."""
    return not is_agent(_actor()) and any(s.visible and not s.readonly and s.spec.type == "text"
                                          for s in form.fields)


def _outages(process: m.ProcessSpec) -> dict[str, list[dict[str, Any]]] | None:
    """The report form's outage picker: ongoing outages, those like the text sent so far first (a form sent
    back with a problem); None for someone who does not work the process."""
    try:
        found = offered_outages(replica_engine(), _actor(), process.id, _typed(process))
    except Forbidden:
        return None
    return {group: [{**o, "label": _outage_label(o)} for o in items] for group, items in found.items()}


def _outage_label(outage: Mapping[str, Any]) -> str:
    label = f"{outage['number']} {outage['title']}"
    if outage["children"]:
        label += " · " + ngettext("%(num)d linked", "%(num)d linked", outage["children"])
    return label


def _render_form(form: Form, values: dict[str, Any], problems: list[dict[str, str]], status: int = 200) -> Any:
    by_field: dict[str, list[str]] = {}
    general = []
    for problem in problems:
        if problem.get("field") in {s.spec.id for s in form.fields}:
            by_field.setdefault(problem["field"], []).append(said(problem["message"]))
        elif problem.get("field"):
            general.append(gettext("%(field)s: %(problem)s", field=problem["field"], problem=said(problem["message"])))
        else:
            general.append(said(problem["message"]))
    submitted = {**(form.ticket["fields"] if form.ticket else {}), **values}
    suggested = _suggested_fields(form)
    triage = _triage(_actor(), form.ticket["number"]) if suggested and form.ticket else None
    picker = form.transition is None and is_agent(_actor())
    return render_template("form.html", form=form, values=submitted, errors=by_field, general=general,
                           comment_box=form.transition is not None and not has_own_text(form),
                           pack=_pack(), zone=_zone(), posted=request.form if request.method == "POST" else None,
                           comment=request.form.get("comment", ""), triage=triage, suggested=suggested,
                           requester_picker=picker, requester=request.form.get("_requester", ""),
                           outages=_outages(form.process) if picker else None,
                           outage=request.form.get("_outage", "")), status
