"""Monitoring intake (SPEC 10 `POST /api/intake/alertmanager`): one incident per alert fingerprint,
left alone while the alert repeats, resolved when it resolves (commented when it cannot be resolved).

Mapping (until packs can declare their own): short_description from the `summary` annotation (else the
alert name), description from the `description` annotation and the labels, channel `monitoring`, and
impact and urgency from the `severity` label (critical: high/high, warning: medium/medium, info: low/low).
On resolve the first transition from the ticket's state into a state named `resolved` is fired as the
system actor, with resolution code `fixed` (when the form has that choice) and a note saying when.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from itsm.store import IntakeKey, Ticket

from .actors import Actor, system_actor
from .errors import BadRequest, EngineError

SEVERITY = {"critical": ("high", "high"), "page": ("high", "high"), "error": ("high", "medium"),
            "warning": ("medium", "medium"), "info": ("low", "low")}
SOURCE = "alertmanager"


def fingerprint(alert: Mapping[str, Any]) -> str:
    given = alert.get("fingerprint")
    if isinstance(given, str) and given:
        return given[:200]
    labels = alert.get("labels") or {}
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()


def alertmanager(engine: Any, actor: Actor, payload: Mapping[str, Any], process: str = "incident") -> list[dict]:
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise BadRequest("an Alertmanager webhook payload has a list of alerts")
    results = []
    for alert in alerts:
        key = fingerprint(alert)
        status = alert.get("status") or payload.get("status") or "firing"
        number = _open_ticket(engine, key)
        if status == "firing":
            if number is None:
                # recorded by the system on behalf of the monitoring tool's user, who is the requester
                ticket = engine.create(system_actor(), process, _fields(engine, process, alert, payload),
                                       requester=actor.name, channel="monitoring")
                _remember(engine, key, ticket["number"])
                results.append({"fingerprint": key, "number": ticket["number"], "action": "created"})
            else:
                results.append({"fingerprint": key, "number": number, "action": "unchanged"})
        elif number is not None:
            results.append({"fingerprint": key, "number": number, "action": _resolve(engine, number, alert)})
        else:
            results.append({"fingerprint": key, "number": None, "action": "ignored"})
    return results


def _open_ticket(engine: Any, key: str) -> str | None:
    with engine.db.read() as session:
        row = session.execute(select(Ticket.number, Ticket.is_open).join(IntakeKey, IntakeKey.ticket_id == Ticket.id)
                              .where(IntakeKey.source == SOURCE, IntakeKey.key == key)).first()
    return row[0] if row is not None and row[1] else None


def _remember(engine: Any, key: str, number: str) -> None:
    with engine.db.write() as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.number == number))
        row = session.get(IntakeKey, (SOURCE, key))
        if row is None:
            session.add(IntakeKey(source=SOURCE, key=key, ticket_id=ticket_id))
        else:
            row.ticket_id = ticket_id


def _fields(engine: Any, process: str, alert: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    spec = engine.definitions.active().pack
    if process not in spec.processes:
        raise BadRequest(f"no process '{process}' to open incidents in")
    form = spec.forms[spec.processes[process].form]
    labels = {**(payload.get("commonLabels") or {}), **(alert.get("labels") or {})}
    annotations = {**(payload.get("commonAnnotations") or {}), **(alert.get("annotations") or {})}
    summary = str(annotations.get("summary") or labels.get("alertname") or "Monitoring alert")
    details = str(annotations.get("description") or "")
    label_text = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    impact, urgency = SEVERITY.get(str(labels.get("severity", "")).lower(), ("medium", "medium"))
    wanted = {"short_description": summary[:160], "description": f"{details}\n\nLabels: {label_text}".strip(),
              "channel": "monitoring", "impact": impact, "urgency": urgency,
              "monitoring_link": alert.get("generatorURL"), "configuration_item": labels.get("instance")}
    fields = {}
    for name, value in wanted.items():
        spec_field = form.by_id.get(name)
        if spec_field is None or value in (None, ""):
            continue
        if spec_field.choices and value not in spec_field.choice_values:
            continue
        fields[name] = value
    return fields


def _resolve(engine: Any, number: str, alert: Mapping[str, Any]) -> str:
    system = system_actor()
    view = engine.get(system, number)
    process = engine.definitions.active().pack.processes[view["process"]]
    form = engine.definitions.active().pack.forms[process.form]
    if view["state"] == "resolved":
        return "unchanged"
    ended = alert.get("endsAt") or "now"
    note = f"Resolved by monitoring: the alert ended at {ended}."
    for transition in process.transitions_from(view["state"]):
        if transition.target != "resolved" or transition.timed:
            continue
        values: dict[str, Any] = {}
        code = form.by_id.get("resolution_code")
        if code is not None and "fixed" in code.choice_values and "resolution_code" in transition.fields:
            values["resolution_code"] = "fixed"
        if "resolution_notes" in transition.fields:
            values["resolution_notes"] = note
        try:
            engine.fire(system, number, transition.id, values, comment=None)
            return "resolved"
        except EngineError:
            break
    engine.comment(system, number, note)
    return "commented"
