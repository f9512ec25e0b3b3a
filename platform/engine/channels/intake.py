"""Intake from other tools (SPEC 10 `POST /api/intake/ID`): payloads mapped to tickets by the pack's `intake`
documents, one open ticket per de-duplication key (the `intake_keys` table).

A repeat of an open key changes nothing, or writes the fields the intake lists under `update`; a repeat
for a key whose ticket sits in a state the `on_resolve` transitions lead to (the alert fires again after it
was resolved) opens a new ticket; a payload for which the resolve condition holds fires the first
`on_resolve` transition the ticket's state allows, else adds the `on_resolve` comment. Tickets are recorded
by the `system` actor on behalf of the token's user, who is the requester. A pack without an `alertmanager`
intake gets the built-in mapping below (the one the default pack declares), so packs written before
intakes were declarable keep working.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from itsm.interpreter import model as m
from itsm.interpreter.templates import is_template, payload_renderer
from itsm.store import intake_keys as stored

from ..boundary import boundary, guarded
from ..errors import N_, BadRequest, EngineError, NotFound
from ..runtime.actions import coerce_rendered
from ..runtime.actors import Actor, system_actor
from ..runtime.apply import create, perform
from ..runtime.attachments import Upload, add_to
from ..runtime.fields import check_values
from ..runtime.rules import Request, plan_comment, working

MAX_KEY = 200  # intake_keys.key; longer keys are hashed
BUILTIN_NOTE = "Resolved by monitoring: the alert ended at {{ alert.endsAt or 'now' }}."
_SEVERITY_IMPACT = {"critical": "high", "page": "high", "error": "high", "warning": "medium", "info": "low"}
_SEVERITY_URGENCY = {"critical": "high", "page": "high", "error": "medium", "warning": "medium", "info": "low"}


def intake_for(pack: m.PackSpec, intake_id: str) -> m.IntakeSpec:
    """The pack's intake `intake_id`; `alertmanager` falls back to the built-in mapping."""
    intake = pack.intakes.get(intake_id)
    if intake is not None:
        return intake
    if intake_id == "alertmanager" and "incident" in pack.processes:
        return builtin_alertmanager(pack, pack.processes["incident"])
    known = ", ".join(sorted(pack.intakes)) or N_("none")
    raise NotFound(N_("no intake '%(intake)s' in the active pack (its intakes: %(known)s)", intake=intake_id,
                      known=known))


def builtin_alertmanager(pack: m.PackSpec, process: m.ProcessSpec) -> m.IntakeSpec:
    """What `definitions/intake/alertmanager.yaml` declares, limited to the fields the form has."""
    form = pack.forms[process.form]
    wanted = {
        "short_description": m.MappedValue("{{ annotations.summary or labels.alertname or 'Monitoring alert' }}"),
        "description": m.MappedValue("{{ (annotations.description ~ '\n\nLabels: ' ~ (labels | dictsort "
                                     "| map('join', '=') | join(', '))) | trim }}"),
        "channel": m.MappedValue("monitoring"),
        "configuration_item": m.MappedValue("{{ labels.instance }}"),
        "monitoring_link": m.MappedValue("{{ alert.generatorURL }}"),
        "impact": m.MappedValue("{{ labels.severity | lower }}", m.frozen_map(_SEVERITY_IMPACT), "medium"),
        "urgency": m.MappedValue("{{ labels.severity | lower }}", m.frozen_map(_SEVERITY_URGENCY), "medium"),
    }
    into_resolved = tuple(t.id for t in process.transitions if t.target == "resolved" and not t.timed)
    resolve = m.ResolveSpec(into_resolved, m.frozen_map({"resolution_code": "fixed", "resolution_notes": BUILTIN_NOTE}),
                            BUILTIN_NOTE)
    return m.IntakeSpec("alertmanager", "alertmanager", process.id,
                        m.frozen_map({k: v for k, v in wanted.items() if k in form.by_id}), on_resolve=resolve,
                        where="built-in alertmanager intake")


@guarded
def receive(engine: Any, actor: Actor, intake_id: str, payload: Any) -> list[dict[str, Any]]:
    """Handle one POSTed payload: a result per alert (alertmanager) or for the payload (json)."""
    intake = intake_for(engine.definitions.active().pack, intake_id)
    if intake.source == "email":
        raise NotFound(N_("intake '%(intake)s' takes mail: feed it with `itsm mail-intake`, not HTTP",
                          intake=intake_id))
    if not isinstance(payload, dict):
        raise BadRequest(N_("the body of intake '%(intake)s' must be a JSON object", intake=intake_id))
    if intake.source == "alertmanager":
        return [_handle(engine, actor, intake, context, "fingerprint") for context in alert_contexts(payload)]
    return [_handle(engine, actor, intake, {"payload": payload}, "key")]


INTAKE_CHANNELS = {"alertmanager": "monitoring", "json": "api", "email": "email"}  # create events


def alert_contexts(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the templates of an alertmanager intake see, one context per alert of the webhook payload."""
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise BadRequest(N_("an Alertmanager webhook payload has a list of alerts"))
    contexts = []
    for alert in alerts:
        labels, annotations = _merged(payload, alert, "Labels"), _merged(payload, alert, "Annotations")
        status = alert.get("status") or payload.get("status") or "firing"
        contexts.append({"alert": alert, "labels": labels, "annotations": annotations, "payload": payload,
                         "status": status})
    return contexts


def _merged(payload: Mapping[str, Any], alert: Mapping[str, Any], what: str) -> dict[str, Any]:
    common, own = payload.get(f"common{what}"), alert.get(what.lower())
    if not isinstance(common or {}, dict) or not isinstance(own or {}, dict):
        raise BadRequest(N_("an alert's %(what)s must be an object", what=what.lower()))
    return {**(common or {}), **(own or {})}


def _handle(engine: Any, actor: Actor, intake: m.IntakeSpec, context: dict[str, Any], key_name: str) -> dict[str, Any]:
    key = _key(intake, context)
    result: dict[str, Any] = {key_name: key}
    number, state = open_ticket(engine, intake.id, key)
    if number is not None and not _visible(engine, actor, number):
        # another sender's ticket: whoever holds a token must not update, comment on or resolve it (as
        # `system`), nor learn its number, by replaying that sender's key
        result.update(number=None, action="rejected",
                      message="an open ticket of this key belongs to another sender, whose tickets you cannot see")
        return result
    if _resolving(intake, context):
        result.update(number=number, action=resolve(engine, intake, number, context) if number else "ignored")
        return result
    pack = engine.definitions.active().pack
    settled = resolved_states(pack, intake)
    if number is not None and state in settled:
        result["previous"] = number  # it fires again after it was resolved: a new ticket, not a lost repeat
        number = None
    if number is not None and not intake.update:
        result.update(number=number, action="unchanged")
        return result
    form = pack.forms[pack.processes[intake.process].form]
    fields, dropped = map_fields(intake, form, context, only=intake.update if number is not None else None)
    if number is None:
        number, created = create_keyed(engine, intake, key, fields, requester=actor.name, settled=settled)
        result.update(number=number, action="created" if created else "unchanged")
    else:
        result.update(number=number, action=_update(engine, intake, number, fields))
    if dropped:
        result["dropped"] = dropped
    return result


def _key(intake: m.IntakeSpec, context: Mapping[str, Any]) -> str:
    if intake.key is not None:
        key = render(intake, intake.key, context).strip()
        if not key:
            raise BadRequest(N_("the payload has no key for intake '%(intake)s': %(key)s renders nothing",
                                  intake=intake.id, key=intake.key))
    else:  # an alert: its fingerprint, else a digest of its labels
        given = context["alert"].get("fingerprint")
        key = given if isinstance(given, str) and given else hashlib.sha256(
            json.dumps(context["labels"], sort_keys=True, default=str).encode()).hexdigest()
    return key if len(key) <= MAX_KEY else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _resolving(intake: m.IntakeSpec, context: Mapping[str, Any]) -> bool:
    if intake.resolve_when is not None:
        return intake.resolve_when.test(context)
    return intake.source == "alertmanager" and context.get("status") == "resolved"


def render(intake: m.IntakeSpec, text: Any, context: Mapping[str, Any]) -> Any:
    """A template over the payload (literals pass through); a payload that breaks it is a bad request."""
    if not is_template(text):
        return text
    # a payload of an unexpected shape: the sender's problem (400), never a 500
    with boundary(f"{intake.where} (intake '{intake.id}')", templates=BadRequest):
        return payload_renderer(text)(context)


def map_fields(intake: m.IntakeSpec, form: m.FormSpec, context: Mapping[str, Any],
               only: tuple[str, ...] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """(field values, {field: why it was left out}): values a field cannot hold are dropped, not refused,
    because the sending tool cannot fix its payload; text longer than the field allows is cut."""
    values: dict[str, Any] = {}
    dropped: dict[str, str] = {}
    for name, mapped in intake.fields.items():
        if (only is not None and name not in only) or name not in form.by_id:
            continue
        rendered = render(intake, mapped.template, context)
        if mapped.lookup is not None:
            rendered = mapped.lookup.get(str(rendered).strip(), mapped.default)
        value, problem = fit(form, name, rendered)
        if problem:
            dropped[name] = problem
        elif value is not None:
            values[name] = value
    return values, dropped


def fit(form: m.FormSpec, name: str, value: Any) -> tuple[Any, str | None]:
    """(the value field `name` gets or None, the reason it cannot hold the value or None)."""
    spec = form.field(name)
    if isinstance(value, str):
        if spec.type not in ("string", "text"):
            value = value.strip()
        if value == "":
            return None, None
        try:
            value = coerce_rendered(spec, value)
        except EngineError as exc:
            return None, exc.message
        if isinstance(value, str) and spec.max_length is not None and len(value) > spec.max_length:
            value = value[: spec.max_length - 1] + "…"
    problems = check_values(form, {name: value})
    return (None, problems[0]["message"]) if problems else (value, None)


def resolved_states(pack: m.PackSpec, intake: m.IntakeSpec) -> frozenset[str]:
    """The states the intake's `on_resolve` transitions lead to: a key whose ticket sits there is settled."""
    if intake.on_resolve is None:
        return frozenset()
    process = pack.processes[intake.process]
    return frozenset(t.target for t in process.transitions if t.id in intake.on_resolve.transitions)


def _visible(engine: Any, actor: Actor, number: str) -> bool:
    try:
        engine.get(actor, number)
    except NotFound:
        return False
    return True


def open_ticket(engine: Any, source: str, key: str) -> tuple[str | None, str | None]:
    """The number and state of the open ticket of `key`, or (None, None)."""
    with engine.db.read() as session:
        found = stored.ticket_of_key(session, source, key)
    if found is None or not found[1]:
        return None, None
    return found[0], found[2]


def create_keyed(engine: Any, intake: m.IntakeSpec, key: str, fields: dict[str, Any],
                 requester: str, settled: frozenset[str] = frozenset(), *, uploader: Actor | None = None,
                 uploads: Sequence[Upload] = (), note: str | None = None) -> tuple[str, bool]:
    """Open a ticket for `key` unless one is open and not in a `settled` state: (number, created). The ticket
    and its key are written in one transaction (the key row locked), so concurrent repeats open one ticket;
    with it, the received files `uploads` attached by `uploader` and a `note` (a comment of the system's)."""
    for attempt in range(2):
        try:
            with engine.db.write() as session:
                row = stored.locked(session, intake.id, key)
                if row is not None:
                    number = stored.open_number(session, row.ticket_id, settled)
                    if number is not None:
                        return number, False
                now = engine.clock()
                request = Request("create", system_actor(), now, process=intake.process, values=fields,
                                  requester=requester, channel=INTAKE_CHANNELS[intake.source])
                context = engine.context(session)
                created = create(session, engine.db, context, request).snapshot
                if note:
                    noted = plan_comment(working(context, created, system_actor(), now), note, False)
                    created = perform(session, engine.db, context, noted).snapshot
                if uploads:
                    add_to(session, engine, context, created, uploader or system_actor(), uploads, skip_known=True)
                ticket = created.ticket
                if row is None:
                    stored.add(session, intake.id, key, ticket.id, now)
                else:
                    stored.point(session, intake.id, key, ticket.id, now)
                number = ticket.number
            return number, True
        except stored.KeyTaken:  # another request created the key's ticket first: it is a repeat now
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def remember(engine: Any, source: str, key: str, number: str) -> None:
    """Point `key` at the ticket `number` (a mail that became a comment)."""
    with engine.db.write() as session:
        stored.point_to_number(session, source, key, number)


def _update(engine: Any, intake: m.IntakeSpec, number: str, fields: Mapping[str, Any]) -> str:
    system = system_actor()
    current = engine.get(system, number)["fields"]
    changed = {k: v for k, v in fields.items() if current.get(k) != v}
    if not changed:
        return "unchanged"
    engine.update(system, number, changed)
    return "updated"


def resolve(engine: Any, intake: m.IntakeSpec, number: str, context: Mapping[str, Any]) -> str:
    spec = intake.on_resolve
    if spec is None:
        return "unchanged"
    system = system_actor()
    view = engine.get(system, number)
    pack = engine.definitions.active().pack
    process = pack.processes[view["process"]]
    form = pack.forms[process.form]
    candidates = [t for tid in spec.transitions if (t := process.transition_by_id.get(tid)) is not None]
    if view["state"] in {t.target for t in candidates}:
        return "unchanged"
    values = {}
    for name, raw in spec.fields.items():
        if name in form.by_id:
            value, problem = fit(form, name, render(intake, raw, context))
            if value is not None and problem is None:
                values[name] = value
    for transition in candidates:
        if view["state"] not in transition.sources or transition.timed:
            continue
        try:
            engine.fire(system, number, transition.id, {k: v for k, v in values.items() if k in transition.fields})
            return "resolved"
        except EngineError:
            continue  # a guard or a required field: try the next one, then comment
    note = str(render(intake, spec.comment, context)).strip()
    if not note:
        return "unchanged"
    engine.comment(system, number, note)
    return "commented"
