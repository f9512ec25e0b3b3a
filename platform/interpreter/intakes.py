"""Intakes: how payloads from other tools, and mail, become tickets (the `intake` kind).

A mapping is data: field values are literals, sandboxed `{{ }}` templates or lookup tables, the resolve
condition is an expression (SPEC 5). Checked here against the process, its form and its transitions, and
against the names a source's payload offers, so a typo is a load error with its line, not a runtime surprise.
"""

from __future__ import annotations

from typing import Any

from . import model as m
from .context import Compilation, Doc, Path, make_scope, value_problem
from .errors import did_you_mean
from .expressions import NameInfo, Scope
from .templates import is_template, template_names, template_problem

# The names a source's templates and expressions see (the payload, split up the way its authors think of it).
SOURCE_NAMES: dict[str, tuple[str, ...]] = {
    "alertmanager": ("alert", "labels", "annotations", "payload", "status"),
    "json": ("payload",),
    "email": ("mail", "sender"),
}
MAX_ID_LENGTH = 32  # the id is the de-duplication key's namespace (intake_keys.source)
_EMAIL_ONLY = ("on_reply", "unknown_senders")
_NOT_EMAIL = ("key", "update", "resolve_when", "on_resolve")


def intake_scope(source: str, comp: Compilation) -> Scope:
    """Expression names of a source: its roots, each open below (payloads are free-form)."""
    roots = SOURCE_NAMES[source]
    names = {root: NameInfo() for root in roots}
    if source == "alertmanager":
        names["status"] = NameInfo(kind="text")
    scope = make_scope(names, comp.plugin_functions)
    return Scope(scope.names, scope.functions, tuple(r for r in roots if r != "status"))


def compile_intake(doc: Doc, comp: Compilation, processes: dict[str, m.ProcessSpec]) -> m.IntakeSpec | None:
    data = doc.data
    source = data["source"]
    if len(doc.id) > MAX_ID_LENGTH:
        doc.error(("id",), f"an intake id has at most {MAX_ID_LENGTH} characters ({len(doc.id)} here)")
    _check_source_keys(doc, source)
    process = processes.get(data["process"])
    if not comp.check_ref(doc, ("process",), "process", data["process"]):
        return None
    if process is None:  # the process has errors of its own, reported there
        return None
    form = comp.forms.get(process.form)
    if form is None:
        return None

    fields = {}
    for field_id, raw in data.get("fields", {}).items():
        path: Path = ("fields", field_id)
        if not comp.field_ref(doc, path, form, field_id, key=True):
            continue
        fields[field_id] = _mapped_value(doc, comp, path, source, form.field(field_id), raw)
    required = [f.id for f in form.fields if f.required and f.default is None and f.id not in data.get("fields", {})]
    if required:
        doc.error(("fields",) if "fields" in data else ("process",),
                  f"required field '{required[0]}' of form '{form.id}' is not mapped: every ticket would be refused")
    for i, field_id in enumerate(data.get("update", [])):
        if field_id not in data.get("fields", {}):
            doc.error(("update", i), f"'{field_id}' is not in fields: only mapped fields can be updated"
                                     f"{did_you_mean(field_id, data.get('fields', {}))}")

    key = data.get("key")
    if key is not None:
        _template(doc, comp, ("key",), source)
    elif source == "json":
        doc.error(("source",), "a json intake needs a key: a template such as \"{{ payload.id }}\" naming what "
                               "the payload is about, so repeats update one ticket")
    scope = intake_scope(source, comp)
    resolve_when = None
    if "resolve_when" in data:
        resolve_when = comp.expression(doc, ("resolve_when",), scope)
    on_resolve = _on_resolve(doc, comp, source, process, form) if "on_resolve" in data else None
    if source == "json" and on_resolve is not None and "resolve_when" not in data:
        doc.error(("on_resolve",), "on_resolve needs resolve_when on a json intake: say when a payload "
                                   "resolves its ticket, e.g. \"payload.status == 'ok'\"", key=True)
    if "resolve_when" in data and on_resolve is None:
        doc.error(("resolve_when",), "resolve_when needs on_resolve: which transitions resolve the ticket, "
                                     "e.g. on_resolve: {transitions: [resolve]}", key=True)
    reply = (data.get("on_reply") or {}).get("comment")
    if reply is not None:
        _template(doc, comp, ("on_reply", "comment"), source)
    return m.IntakeSpec(
        id=doc.id, source=source, process=process.id, fields=m.frozen_map(fields), key=key,
        update=tuple(data.get("update", [])), resolve_when=resolve_when, on_resolve=on_resolve,
        reply_comment=reply if reply is not None else m.IntakeSpec.reply_comment,
        unknown_senders=data.get("unknown_senders", "reject"), description=comp.text(doc, ("description",)),
        where=doc.where(("id",)))


def _check_source_keys(doc: Doc, source: str) -> None:
    for key in _EMAIL_ONLY if source != "email" else _NOT_EMAIL:
        if key not in doc.data:
            continue
        if source == "email":
            reason = ("mail is de-duplicated by its Message-ID" if key == "key"
                      else "mail opens tickets and comments on them; it does not update or resolve them")
            doc.error((key,), f"{key} does not apply to email intakes: {reason}", key=True)
        else:
            doc.error((key,), f"{key} belongs to email intakes (source: email)", key=True)


def _mapped_value(doc: Doc, comp: Compilation, path: Path, source: str, spec: m.FieldSpec,
                  raw: Any) -> m.MappedValue:
    if not isinstance(raw, dict):
        if is_template(raw):
            _template(doc, comp, path, source)
        else:
            _literal(doc, path, spec, raw)
        return m.MappedValue(template=raw)
    _template(doc, comp, (*path, "from"), source)
    for value in raw["map"]:
        _literal(doc, (*path, "map", value), spec, raw["map"][value])
    if "default" in raw:
        _literal(doc, (*path, "default"), spec, raw["default"])
    return m.MappedValue(template=raw["from"], lookup=m.frozen_map(raw["map"]), default=raw.get("default"))


def _literal(doc: Doc, path: Path, spec: m.FieldSpec, value: Any) -> None:
    problem = value_problem(spec, value)
    if problem:
        doc.error(path, problem)


def _template(doc: Doc, comp: Compilation, path: Path, source: str) -> None:
    """Syntax and runaway constructs (in the sandbox), then the names the template reads against what the source
    offers."""
    raw: Any = doc.data
    for part in path:
        raw = raw[part]
    if not isinstance(raw, str):
        return
    comp.template(doc, path)  # syntax, or constructs that can run away
    if template_problem(raw):
        return
    known = SOURCE_NAMES[source]
    for name in sorted(template_names(raw)):
        if name not in known:
            doc.error(path, f"unknown name '{name}' in template{did_you_mean(name, known)}: the templates of "
                            f"{'an' if source[0] in 'ae' else 'a'} {source} intake see {', '.join(known)}")


def _on_resolve(doc: Doc, comp: Compilation, source: str, process: m.ProcessSpec,
                form: m.FormSpec) -> m.ResolveSpec:
    raw = doc.data["on_resolve"]
    transitions = []
    for i, transition_id in enumerate(raw["transitions"]):
        if transition_id in process.transition_by_id:
            transitions.append(process.transition(transition_id))
            continue
        known = [t.id for t in process.transitions]
        doc.error(("on_resolve", "transitions", i), f"unknown transition '{transition_id}' of process "
                                                    f"'{process.id}'{did_you_mean(transition_id, known)}")
    for field_id, value in raw.get("fields", {}).items():
        path: Path = ("on_resolve", "fields", field_id)
        if not comp.field_ref(doc, path, form, field_id, key=True):
            continue
        if is_template(value):
            _template(doc, comp, path, source)
        else:
            _literal(doc, path, form.field(field_id), value)
        if transitions and not any(field_id in t.fields for t in transitions):
            names = ", ".join(t.id for t in transitions)
            doc.error(path, f"field '{field_id}' is not on the form of transition {names}: it would be refused "
                            f"(add it to the transition's fields)", key=True)
    if "comment" in raw:
        _template(doc, comp, ("on_resolve", "comment"), source)
    return m.ResolveSpec(tuple(raw["transitions"]), m.frozen_map(raw.get("fields", {})), raw.get("comment", ""))
