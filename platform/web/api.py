"""The JSON API (SPEC 10): paths, payloads, statuses and one error shape for every failure.

Bad input is a 4xx with a clear message, never a 500: bodies are checked against the schemas the OpenAPI
document declares before the view runs (bodies.py), fields by the engine against the form's JSON Schema.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from flask_babel import lazy_gettext, refresh
from werkzeug.exceptions import HTTPException

from itsm.engine import Actor, BadRequest, EngineError, Forbidden, Unauthorized
from itsm.engine.errors import N_
from itsm.engine.people.users import user_for_token
from itsm.engine.reports.kpis import kpi_report, kpi_rows
from itsm.engine.runtime.actors import actor_for
from itsm.engine.runtime.queue import default_sort
from itsm.interpreter.forms import form_json_schema
from itsm.interpreter.graph import mermaid
from itsm.store.tickets import SORT_KEYS

from .availability import is_page_request
from .bodies import declared_body
from .exports import csv_download, text_cell
from .extension import current_engine, kpi_engine, replica_engine, search_engine
from .i18n import error_body, html_lang
from .openapi import openapi_document
from .pages import engine_error_page, http_error_page

api = Blueprint("api", __name__, url_prefix="/api")
MAX_LIMIT = 200
# Werkzeug's own descriptions of the errors an API client meets (word for word: English answers keep them)
WERKZEUG_DESCRIPTIONS = {
    400: lazy_gettext("The browser (or proxy) sent a request that this server could not understand."),
    404: lazy_gettext("The requested URL was not found on the server. If you entered the URL manually please check "
                      "your spelling and try again."),
    405: lazy_gettext("The method is not allowed for the requested URL."),
    413: lazy_gettext("The data value transmitted exceeds the capacity limit."),
    415: lazy_gettext("The server does not support the media type transmitted in the request."),
    500: lazy_gettext("The server encountered an internal error and was unable to complete your request. Either the "
                      "server is overloaded or there is an error in the application."),
}


def init_app(app: Flask) -> None:
    app.register_blueprint(api)

    @app.errorhandler(UnicodeError)
    def undecodable(exc: UnicodeError) -> tuple[Response, int]:
        return jsonify(error_body(BadRequest(N_("text that is not valid UTF-8")))), 400

    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError) -> Any:
        if is_page_request():
            return engine_error_page(exc)
        return jsonify(error_body(exc)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if is_page_request():
            return http_error_page(exc)
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if message == type(exc).description:  # Werkzeug's own words (an abort() with a message says it already)
            message = str(WERKZEUG_DESCRIPTIONS.get(exc.code or 500, message))
        return jsonify({"error": code, "message": message, "details": []}), exc.code or 500


@api.before_request
def clean_text_in_path_and_query() -> None:
    for value in [*(request.view_args or {}).values(), *request.args.values()]:
        _check_text(value, N_("the URL"))


def authenticated(view: Callable[..., Any]) -> Callable[..., Any]:
    """Bearer tokens for tools (SPEC 9); the actor is built under the active definitions version."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(N_("missing API token: send 'Authorization: Bearer <token>' (itsm token create NAME)"))
        engine = current_engine()
        user = user_for_token(engine.db, token.strip())
        g.actor = actor_for(user, engine.definitions.active().pack)
        g.api_locale = user.locale  # the caller's language (itsm.web.i18n) ...
        refresh()  # ... even if something asked for the language before the token was read
        if getattr(view, "admins_only", False) and not g.actor.is_admin:
            raise Forbidden(N_("only administrators manage users and organizations"))
        g.body = declared_body(json_object)
        return view(*args, **kwargs)

    return wrapper


def admins_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a view (under `authenticated`) for admins: anyone else gets a 403 before the body is read."""
    view.admins_only = True  # type: ignore[attr-defined]
    return view


def actor() -> Actor:
    return g.actor


def request_body() -> dict[str, Any]:
    """The JSON body of this request, checked against the schema its endpoint declares (400/422 otherwise)."""
    return g.body or {}


def json_object() -> dict[str, Any]:
    """The request's JSON object, text checked (400 for anything else, nesting too deep to parse included)."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise BadRequest(N_("the body nests too deeply")) from None
    if data is None:
        raise BadRequest(N_("the body must be JSON (Content-Type: application/json)"))
    if not isinstance(data, dict):
        raise BadRequest(N_("the body must be a JSON object"))
    _check_text(data, N_("the body"))
    return data


def _check_text(value: Any, where: str, depth: int = 0) -> None:
    """Strings anywhere in the input must be storable text: no NUL, no lone surrogates (400 otherwise)."""
    if depth > 32:
        raise BadRequest(N_("%(where)s nests too deeply", where=where))
    if isinstance(value, str):
        if "\x00" in value:
            raise BadRequest(N_("%(where)s contains a NUL character", where=where))
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(N_("%(where)s contains text that is not valid Unicode", where=where)) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where, depth + 1)
            _check_text(item, where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, where, depth + 1)


# -- public -----------------------------------------------------------------------------------------

@api.get("/health")
def health() -> Any:
    """The database reachable (else 503 from `availability`) and the active definitions version."""
    engine = current_engine()
    engine.db.ping()  # a real round trip: the version below may come from a cache
    try:
        version = engine.definitions.active_id()
    except EngineError:
        version = None
    return jsonify({"status": "ok", "database": "reachable", "definitions_version": version})


@api.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())


# -- definitions --------------------------------------------------------------------------------------

@api.get("/pack")
@authenticated
def pack() -> Any:
    compiled = current_engine().definitions.active()
    spec = compiled.pack
    language = html_lang()
    return jsonify({"id": spec.id, "name": spec.name.get(language), "version": compiled.id,
                    "language": spec.language,
                    "processes": [{"id": p.id, "title": p.title.get(language)} for p in spec.processes.values()]})


def _process(process_id: str) -> Any:
    process = current_engine().definitions.active().pack.processes.get(process_id)
    if process is None:
        from itsm.engine import NotFound

        raise NotFound(N_("no process '%(process)s'", process=process_id))
    return process


@api.get("/processes/<process_id>")
@authenticated
def process(process_id: str) -> Any:
    spec = _process(process_id)
    language = html_lang()
    return jsonify({
        "id": spec.id, "title": spec.title.get(language), "form": spec.form, "initial": spec.initial,
        "states": [{"id": s.id, "label": s.label.get(language), "final": s.final} for s in spec.states],
        "transitions": [{"id": t.id, "label": t.label.get(language), "from": list(t.sources), "to": t.target,
                         "roles": list(t.roles) if t.roles is not None else None, "fields": list(t.fields),
                         "after": t.after.text if t.after else None} for t in spec.transitions],
    })


@api.get("/processes/<process_id>/diagram")
@authenticated
def diagram(process_id: str) -> Any:
    return Response(mermaid(_process(process_id), html_lang()), mimetype="text/plain")


@api.get("/forms/<form_id>/schema")
@authenticated
def form_schema(form_id: str) -> Any:
    form = current_engine().definitions.active().pack.forms.get(form_id)
    if form is None:
        from itsm.engine import NotFound

        raise NotFound(N_("no form '%(form)s'", form=form_id))
    return jsonify(form_json_schema(form, html_lang()))


# -- tickets ----------------------------------------------------------------------------------------

@api.post("/tickets")
@authenticated
def create_ticket() -> Any:
    data = request_body()
    ticket = current_engine().create(actor(), data["process"], data.get("fields") or {}, data.get("requester"),
                                     channel="api")
    return jsonify(ticket), 201


QUEUE_QUERY = ("process", "state", "priority", "team", "assignee", "requester", "q", "sla", "org", "sort",
               "include_closed", "unassigned", "count", "limit", "cursor")


@api.get("/tickets")
@authenticated
def list_tickets() -> Any:
    args = request.args
    unknown = [k for k in args if k not in QUEUE_QUERY]
    if unknown:
        raise BadRequest(N_("unknown query parameter '%(name)s'", name=unknown[0]),
                         [{"field": k, "message": N_("unknown parameter")} for k in unknown])
    try:
        limit = int(args.get("limit", 50))
    except ValueError:
        raise BadRequest(N_("limit must be an integer"),
                         [{"field": "limit", "message": N_("not an integer")}]) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(N_("limit must be between 1 and %(most)s", most=MAX_LIMIT),
                         [{"field": "limit", "message": N_("between 1 and %(most)s", most=MAX_LIMIT)}])
    count = (args.get("count") or "false").strip().lower()
    if count not in ("true", "false"):
        raise BadRequest(N_("%(name)s must be true or false", name="count"),
                         [{"field": "count", "message": N_("true or false")}])
    kind = cursor_kind(args, actor())
    found = search_engine(args).queue_page(actor(), args, limit, decode_queue_cursor(args.get("cursor"), kind),
                                           count=count == "true")
    body: dict[str, Any] = {"items": found.items, "next_cursor": encode_queue_cursor(found.next_cursor, kind)}
    if found.total is not None:
        body["total"] = found.total
    return jsonify(body)


def cursor_kind(args: Any, caller: Actor) -> str:
    """What a queue cursor holds: for a ranked search (`q`) the rows already shown (`at`); for the newest
    first the id to continue below (`id`); for any other order its name (the last row's sort key follows)."""
    if (args.get("q") or "").strip():
        return "at"
    sort = args.get("sort") or default_sort(caller)
    return "id" if sort == "-created" else sort


def encode_queue_cursor(value: Any, kind: str) -> str | None:
    """An opaque cursor: `at:N`, `id:N`, or the sort's name and its key as JSON (instants in ISO 8601)."""
    if value is None:
        return None
    if kind in ("at", "id"):
        return _encode_cursor(int(value[0] if isinstance(value, tuple) else value), kind)
    key = [v.isoformat() if isinstance(v, datetime) else v for v in value]
    return base64.urlsafe_b64encode(f"{kind}:{json.dumps(key, separators=(',', ':'))}".encode()).decode()


def decode_queue_cursor(text: str | None, kind: str) -> Any:
    """A cursor this API gave for this order (400 otherwise): an int (`at`), or the sort key as a tuple."""
    if not text:
        return None
    if kind == "at":
        return _decode_cursor(text, "at")
    if kind == "id":
        return (_decode_cursor(text, "id"),)
    try:
        found, _, value = base64.urlsafe_b64decode(text.encode()).decode().partition(":")
        keys = SORT_KEYS.get(kind)
        values = json.loads(value)
        if found != kind or keys is None or not isinstance(values, list) or len(values) != len(keys):
            raise ValueError
        return tuple(_key_value(name, item) for (name, _), item in zip(keys, values, strict=True))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(N_("invalid cursor: pass the next_cursor of the previous page unchanged"),
                         [{"field": "cursor", "message": N_("not a cursor this API gave")}]) from None


def _encode_cursor(ticket_id: int | None, kind: str = "id") -> str | None:
    return base64.urlsafe_b64encode(f"{kind}:{ticket_id}".encode()).decode() if ticket_id is not None else None


def _decode_cursor(text: str | None, expected: str = "id") -> int | None:
    if not text:
        return None
    try:
        kind, _, value = base64.urlsafe_b64decode(text.encode()).decode().partition(":")
        number = int(value)
        if kind != expected or not 0 < number < 2**63:
            raise ValueError
        return number
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(N_("invalid cursor: pass the next_cursor of the previous page unchanged"),
                         [{"field": "cursor", "message": N_("not a cursor this API gave")}]) from None


def _key_value(column: str, value: Any) -> Any:
    """One value of a sort key as the column holds it: an aware instant, or an integer."""
    if value is None and column == "sla_due_at":
        return None
    if column.endswith("_at"):
        instant = datetime.fromisoformat(value)
        if instant.tzinfo is None:
            raise ValueError
        return instant
    if type(value) is not int or not -2**63 < value < 2**63:
        raise ValueError
    return value


@api.get("/tickets/<number>")
@authenticated
def get_ticket(number: str) -> Any:
    return jsonify(current_engine().get(actor(), number))


@api.patch("/tickets/<number>")
@authenticated
def update_ticket(number: str) -> Any:
    # SPEC 10 writes the version without "?" here (unlike a transition's): a field update never overwrites
    # changes its sender has not seen.
    data = request_body()
    return jsonify(current_engine().update(actor(), number, data["fields"], int(data["version"])))


@api.post("/tickets/<number>/transitions/<transition>")
@authenticated
def fire_transition(number: str, transition: str) -> Any:
    # An empty body is no body; a chunked one has no Content-Length but is read all the same (bodies.py).
    data = request_body()
    version = None if data.get("version") is None else int(data["version"])  # JSON may write 2 as 2.0
    ticket = current_engine().fire(actor(), number, transition, data.get("fields") or {}, data.get("comment"), version)
    return jsonify(ticket)


@api.post("/tickets/bulk")
@authenticated
def bulk_tickets() -> Any:
    """One action on many tickets, each in its own transaction: every ticket's outcome (issue 17)."""
    from itsm.engine.runtime.bulk_actions import bulk

    data = request_body()
    return jsonify(bulk(current_engine(), actor(), data["numbers"], data["action"], data, describe=error_body))


@api.post("/tickets/<number>/assign")
@authenticated
def assign_ticket(number: str) -> Any:
    """Give the ticket to a team or a person (`assignee: "me"`: the caller)."""
    data = request_body()
    user = data.get("assignee")
    user = actor().name if user == "me" else user
    version = None if data.get("version") is None else int(data["version"])
    return jsonify(current_engine().assign(actor(), number, data.get("team") or None, user or None, version))


@api.get("/tickets/<number>/candidates")
@authenticated
def assignee_candidates(number: str) -> Any:
    """Who the ticket may be given to, with their team and open tickets (the assignee picker)."""
    from itsm.engine.people.lookup import assignee_candidates as candidates

    _query(())
    return jsonify({"items": candidates(current_engine(), actor(), number)})


@api.get("/tickets/<number>/events")
@authenticated
def ticket_events(number: str) -> Any:
    return jsonify({"items": current_engine().events(actor(), number)})


@api.post("/intake/<intake_id>")
@authenticated
def intake(intake_id: str) -> Any:
    """A payload from another tool, mapped by the pack's intake `intake_id` (`alertmanager` has a built-in
    fallback)."""
    from itsm.engine.channels.intake import receive

    return jsonify({"results": receive(current_engine(), actor(), intake_id, request_body())})


@api.get("/tickets/<number>/comments")
@authenticated
def ticket_comments(number: str) -> Any:
    return jsonify({"items": current_engine().comments(actor(), number)})


@api.post("/tickets/<number>/comments")
@authenticated
def add_comment(number: str) -> Any:
    data = request_body()
    return jsonify(current_engine().comment(actor(), number, data["text"], bool(data.get("internal")))), 201


@api.get("/tickets/<number>/watchers")
@authenticated
def ticket_watchers(number: str) -> Any:
    return jsonify({"items": current_engine().watchers(actor(), number)})


@api.post("/tickets/<number>/watchers")
@authenticated
def add_watcher(number: str) -> Any:
    return jsonify({"items": current_engine().watch(actor(), number, request_body()["user"])}), 201


@api.delete("/tickets/<number>/watchers/<user>")
@authenticated
def remove_watcher(number: str, user: str) -> Any:
    return jsonify({"items": current_engine().watch(actor(), number, user, follow=False)})


# -- KPIs ---------------------------------------------------------------------------------------------

@api.get("/kpis")
@authenticated
def kpis() -> Any:
    """SPEC 10 KPIs as JSON, or with `format=csv` as `metric,dimension,value` rows (a download)."""
    kind = request.args.get("format", "json")
    if kind not in ("json", "csv"):
        raise BadRequest(N_("format must be json or csv"), [{"field": "format", "message": N_("json or csv")}])
    report = kpi_report(kpi_engine(), actor(), request.args)
    if kind == "json":
        return jsonify(report)
    return kpi_csv(report, request.args)


def kpi_csv(report: dict[str, Any], args: Any) -> Any:
    """A KPI report as the `metric,dimension,value` download (the API's and the dashboard's button)."""
    rows = ((metric, text_cell(dimension), value) for metric, dimension, value in kpi_rows(report))
    return csv_download(("metric", "dimension", "value"), rows, _csv_name(args))


def _csv_name(args: Any) -> str:
    """kpis.csv, or kpis_2026-03-01_2026-03-31.csv for a period: the days as the request gave them (a date, or
    an instant's day in its own offset, as the dashboard sends the reader's days; `to` is exclusive as an
    instant, so its last day is shown)."""
    start, end = args.get("from") or None, args.get("to") or None
    if start is None and end is None:
        return "kpis.csv"
    return f"kpis_{_csv_day(start, 0) if start else 'start'}_{_csv_day(end, 1) if end else 'now'}.csv"


def _csv_day(text: str, exclusive: int) -> str:
    if len(text.strip()) == 10:
        return date.fromisoformat(text.strip()).isoformat()  # checked already by the report
    return (datetime.fromisoformat(text.strip()) - timedelta(microseconds=exclusive)).date().isoformat()


# -- known errors and reviews (issue 7) ---------------------------------------------------------------

def _query(allowed: tuple[str, ...]) -> Any:
    unknown = [k for k in request.args if k not in allowed]
    if unknown:
        raise BadRequest(N_("unknown query parameter '%(name)s'", name=unknown[0]))
    return request.args


def _limit(value: Any, default: int = 5) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(N_("limit must be an integer")) from None


@api.route("/suggestions", methods=["GET", "POST"])
@authenticated
def suggestions() -> Any:
    """Known errors for the intake form's text: GET for short texts, POST for long descriptions (a request
    line longer than gunicorn's 4 KB limit never reaches us)."""
    from itsm.engine.reports.known_errors import suggest

    if request.method == "POST":
        data = request_body()
        text, process, limit = data["text"], data.get("process"), _limit(data.get("limit"))
    else:
        args = _query(("text", "process", "limit"))
        if "text" not in args:
            raise BadRequest(N_("text is required: the description to find known errors for"))
        text, process, limit = args["text"], args.get("process") or None, _limit(args.get("limit"))
    return jsonify({"items": suggest(replica_engine(), actor(), text, process=process, limit=limit)})


@api.route("/outages", methods=["GET", "POST"])
@authenticated
def outages() -> Any:
    """The ongoing outages an agent may attach a new incident to, those like its `text` first (issue 17); POST
    for long descriptions, as /api/suggestions."""
    from itsm.engine.reports.outages import offered_outages

    if request.method == "POST":
        data = request_body()
        process, text = data["process"], data.get("text") or ""
    else:
        args = _query(("process", "text"))
        if "process" not in args:
            raise BadRequest(N_("process is required: the process of the incident being recorded"))
        process, text = args["process"], args.get("text", "")
    return jsonify(offered_outages(replica_engine(), actor(), process, text))


@api.get("/tickets/<number>/suggestions")
@authenticated
def ticket_suggestions(number: str) -> Any:
    from itsm.engine.reports.known_errors import suggest_for_ticket

    args = _query(("limit",))
    return jsonify({"items": suggest_for_ticket(current_engine(), actor(), number, limit=_limit(args.get("limit")))})


@api.get("/tickets/<number>/links")
@authenticated
def ticket_links(number: str) -> Any:
    from itsm.engine.reports.known_errors import links

    return jsonify({"items": links(current_engine(), actor(), number)})


@api.post("/tickets/<number>/links")
@authenticated
def add_link(number: str) -> Any:
    from itsm.engine.runtime.linking import KNOWN_ERROR, link

    data = request_body()
    result, created = link(current_engine(), actor(), number, data["to"], data.get("kind") or KNOWN_ERROR)
    return jsonify(result), 201 if created else 200


@api.post("/tickets/<number>/review")
@authenticated
def open_review(number: str) -> Any:
    from itsm.engine.runtime.reviews import request_review

    return jsonify(request_review(current_engine(), actor(), number)), 201


# -- triage assistance (SPEC 16) ----------------------------------------------------------------------

@api.post("/triage")
@authenticated
def triage_text() -> Any:
    """Suggestions for what a person is typing: the pack's triage fields, the team, similar tickets."""
    from itsm.engine.reports.triage import triage_text as suggest_triage

    data = request_body()
    return jsonify(suggest_triage(replica_engine(), actor(), data["process"], data.get("fields") or {}))


@api.get("/tickets/<number>/triage")
@authenticated
def ticket_triage(number: str) -> Any:
    from itsm.engine.reports.triage import triage_ticket

    _query(())
    return jsonify(triage_ticket(current_engine(), actor(), number))
