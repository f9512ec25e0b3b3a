"""Loading a pack: read and merge the files, check shapes, then meaning, then build the frozen model."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import model as m
from . import plugins as plugin_registry
from .context import (
    BUILTIN_NAMES,
    TWENTY_FOUR_SEVEN,
    Compilation,
    Doc,
    field_info,
    loose_process,
    make_scope,
    merge_name_maps,
)
from .errors import DefinitionError, PackError, Position, did_you_mean
from .expressions import NameInfo, Scope
from .forms import attach_conditions, compile_form
from .intakes import compile_intake
from .overlay import MergedPack, load_merged
from .processes import compile_process, policy_ids, process_names
from .scenarios import compile_scenario
from .service_levels import builtin_24x7, check_timezone, compile_calendar, compile_matrix, compile_policy
from .shape import check_shape
from .source import SourceDocument, from_plain, to_plain
from .teams import check_escalation_cycles, compile_notification, compile_routing, compile_team
from .texts import DEFAULT_LANGUAGE

SUPPORTED_FORMATS = (1,)
DEFAULT_TIMEZONE = "UTC"


def load_pack(path: str | Path) -> m.PackSpec:
    """The compiled pack at `path`; raises PackError with every problem when it is not valid."""
    pack, problems = check_pack(path)
    if pack is None:
        raise PackError(problems)
    return pack


def check_pack(path: str | Path) -> tuple[m.PackSpec | None, list[DefinitionError]]:
    """(the compiled pack or None, every problem sorted by file and line)."""
    root = Path(path)
    problems: list[DefinitionError] = []
    if not root.is_dir():
        problems.append(DefinitionError(Position(str(path), 1, 1), "-", "-", "pack directory not found"))
        return None, problems
    with _no_cyclic_gc():
        merged = load_merged(root, problems)
        return _check_merged(merged, problems), problems


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Loading allocates hundreds of thousands of short-lived objects and creates no garbage cycles worth
    collecting mid-way; the cyclic collector ran dozens of times per large pack (~40% of the time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_merged(merged: MergedPack, problems: list[DefinitionError], stored: bool = False) -> m.PackSpec | None:
    comp = Compilation(problems, removed=merged.removed, layers=merged.layers, stored=stored)
    for source in merged.documents.values():
        kind, ident = source.kind, source.id
        if isinstance(kind, str) and isinstance(ident, str):
            comp.known_ids.setdefault(kind, set()).add(ident)
        # a value past a reading limit was reported and left out: the document counts as broken, once
        shape = [] if source.over_limit else check_shape(source)
        problems.extend(shape)
        broken = bool(shape) or source.over_limit
        if broken and isinstance(kind, str) and isinstance(ident, str):
            comp.broken.setdefault(kind, {})[ident] = to_plain(source.node)
        if not broken:
            doc = Doc(source, comp)
            comp.docs.setdefault(doc.kind, {})[doc.id] = doc
    pack = _compile(comp, merged.root)
    problems.sort(key=DefinitionError.sort_key)
    if any(p.is_error for p in problems) or pack is None:
        return None
    documents = [to_plain(merged.documents[key].node) for key in sorted(merged.documents)]
    return dataclasses.replace(pack, digest=digest_of(documents), warnings=tuple(problems), source=tuple(documents))


def digest_of(source: Sequence[Any]) -> str:
    """The definitions version id: sha256 of the merged documents in a canonical JSON form."""
    return hashlib.sha256(json.dumps(list(source), sort_keys=True, default=str,
                                     separators=(",", ":")).encode()).hexdigest()


def compile_documents(documents: Sequence[Mapping[str, Any]]) -> m.PackSpec:
    """Compile a pack from its merged documents (as `PackSpec.source` holds them): a stored version, valid
    when it was published, so checks added since that only guard the runtime do not stop it loading."""
    problems: list[DefinitionError] = []
    merged = MergedPack(Path("."))
    for document in documents:
        label = f"<{document.get('kind')}/{document.get('id')}>"
        source = SourceDocument(label, Path("."), from_plain(dict(document), label))
        merged.documents[(str(source.kind), str(source.id))] = source
    with _no_cyclic_gc():
        pack = _check_merged(merged, problems, stored=True)
    if pack is None:
        raise PackError(problems)
    return pack


def _compile(comp: Compilation, root: Path) -> m.PackSpec | None:
    pack_docs = list(comp.of_kind("pack").values())
    if not pack_docs:
        if not comp.ids("pack"):
            comp.problems.append(DefinitionError(
                Position("pack.yaml", 1, 1), "pack/?", "-",
                "no pack document: add pack.yaml with kind: pack, id, name and format: 1"))
        return None
    for extra in pack_docs[1:]:
        extra.error(("id",), f"a second pack document: a pack has exactly one (the first is '{pack_docs[0].id}')")
    pack_doc = pack_docs[0]
    data = pack_doc.data
    if data["format"] not in SUPPORTED_FORMATS:
        pack_doc.error(("format",), f"format {data['format']} is not supported by this release "
                                    f"(it reads format {', '.join(map(str, SUPPORTED_FORMATS))})")
    timezone = data.get("timezone", DEFAULT_TIMEZONE)
    if "timezone" in data and not check_timezone(pack_doc, ("timezone",), timezone):
        timezone = DEFAULT_TIMEZONE
    _enable_plugins(pack_doc, comp)
    _languages(pack_doc, comp)

    teams = {doc_id: compile_team(doc, comp) for doc_id, doc in comp.of_kind("team").items()}
    renamed_teams = _renamed_teams(pack_doc, comp)
    check_escalation_cycles(comp)
    calendars = {doc_id: compile_calendar(doc, comp, timezone) for doc_id, doc in comp.of_kind("calendar").items()}
    calendars[TWENTY_FOUR_SEVEN] = builtin_24x7(timezone)
    comp.forms = {doc_id: compile_form(doc, comp) for doc_id, doc in comp.of_kind("form").items()}

    process_docs = comp.of_kind("process")
    names: dict[str, dict[str, NameInfo]] = {}
    forms_of: dict[str, m.FormSpec | None] = {}
    for pid, doc in process_docs.items():
        form_id = doc.data["form"]
        if comp.check_ref(doc, ("form",), "form", form_id):
            forms_of[pid] = comp.forms.get(form_id)
        else:
            forms_of[pid] = None
        names[pid] = process_names(doc, comp, forms_of[pid])
    # a process whose shape is wrong still uses its form, matrix, policies and routing: they are checked
    # as if it were there, with names it might give open, so its one mistake is reported once
    process_data = {pid: doc.data for pid, doc in process_docs.items()}
    for pid, raw in comp.broken.get("process", {}).items():
        process_data[pid] = loose_process(raw)
        forms_of[pid] = comp.forms.get(process_data[pid]["form"])
        fields = set(form.by_id) if (form := forms_of[pid]) is not None else set()
        names[pid] = {name: info if name in fields else NameInfo(kind=info.kind)  # states etc. unknown
                      for name, info in process_names(None, comp, form, process_data[pid]).items()}

    # "not used by any process" is only worth saying about a pack without errors: a process that failed
    # to load may well be the one that uses the document.
    unused_warnings: list[DefinitionError] = []

    def unused(doc: Doc, what: str) -> None:
        unused_warnings.append(DefinitionError(doc.pos(("id",)), doc.subject, "id",
                                               f"{what} is not used by any process", "warning"))

    def users(predicate: Any) -> list[str]:
        return [pid for pid, data in process_data.items() if predicate(data)]

    def scope_of(pids: list[str], fallback_form: m.FormSpec | None = None) -> Scope:
        if pids:
            # a process whose form is broken or unknown has that error reported once, not once per field name
            return make_scope(merge_name_maps([names[p] for p in pids]), comp.plugin_functions,
                              any_field=any(forms_of[p] is None for p in pids))
        generic: dict[str, NameInfo] = dict.fromkeys(BUILTIN_NAMES, NameInfo())
        generic["requester.orgs"] = NameInfo(kind="list")
        for form in [fallback_form] if fallback_form else comp.forms.values():
            generic.update({f.id: field_info(f) for f in form.fields})
        return make_scope(generic, comp.plugin_functions,
                          any_field=not fallback_form and len(comp.forms) < len(comp.ids("form")))

    def forms_for(pids: list[str]) -> list[m.FormSpec]:
        return list({f.id: f for p in pids if (f := forms_of[p]) is not None}.values())

    for form_id, doc in comp.of_kind("form").items():
        pids = users(lambda d, f=form_id: d["form"] == f)
        if not pids:
            unused(doc, f"form '{form_id}'")
        comp.forms[form_id] = attach_conditions(doc, comp, comp.forms[form_id],
                                                scope_of(pids, comp.forms[form_id]))

    matrices = {}
    for mid, doc in comp.of_kind("priority_matrix").items():
        pids = users(lambda d, i=mid: (d.get("priority") or {}).get("matrix") == i)
        if not pids:
            unused(doc, f"priority matrix '{mid}'")
        matrices[mid] = compile_matrix(doc, comp, forms_for(pids), scope_of(pids))

    policies = {}
    for sid, doc in comp.of_kind("sla_policy").items():
        pids = users(lambda d, i=sid: i in policy_ids(d))
        if not pids:
            unused(doc, f"SLA policy '{sid}'")
        matrix_ids = [(process_data[p].get("priority") or {}).get("matrix") for p in pids]
        level_sets = [matrices[mid].level_ids for mid in matrix_ids if mid in matrices]
        forms = forms_for(pids)
        policies[sid] = compile_policy(doc, comp, level_sets, forms[0] if len(forms) == 1 else None,
                                       scope_of(pids))

    processes = {}
    for pid, doc in process_docs.items():
        business = _timed_calendar(doc.data, comp) != TWENTY_FOUR_SEVEN
        processes[pid] = compile_process(doc, comp, forms_of[pid], scope_of([pid]), business)

    routings = {}
    for rid, doc in comp.of_kind("routing").items():
        pids = users(lambda d, i=rid: d.get("routing") == i)
        if not pids:
            unused(doc, f"routing '{rid}'")
        routings[rid] = compile_routing(doc, comp, forms_for(pids), scope_of(pids))

    notifications = {nid: compile_notification(doc, comp) for nid, doc in comp.of_kind("notification").items()}
    scenarios = {sid: compile_scenario(doc, comp, processes) for sid, doc in comp.of_kind("scenario").items()}
    intakes = {iid: intake for iid, doc in comp.of_kind("intake").items()
               if (intake := compile_intake(doc, comp, processes)) is not None}
    if not any(p.is_error for p in comp.problems):
        comp.problems.extend(unused_warnings)

    return m.PackSpec(
        id=pack_doc.id, name=comp.text(pack_doc, ("name",), pack_doc.id), format=data["format"], timezone=timezone,
        digest="", description=comp.text(pack_doc, ("description",)), plugins=tuple(data.get("plugins", [])),
        language=comp.language, languages=comp.languages,
        forms=m.frozen_map(comp.forms), processes=m.frozen_map(processes), matrices=m.frozen_map(matrices),
        calendars=m.frozen_map(calendars), sla_policies=m.frozen_map(policies), teams=m.frozen_map(teams),
        routings=m.frozen_map(routings), notifications=m.frozen_map(notifications),
        scenarios=m.frozen_map(scenarios), intakes=m.frozen_map(intakes), renamed_teams=m.frozen_map(renamed_teams),
        named_users=tuple(comp.named_users))


def _renamed_teams(pack_doc: Doc, comp: Compilation) -> dict[str, str]:
    """`renamed_teams` (SPEC 7): each old id is a team the pack no longer has, each new one a team it has."""
    renamed: dict[str, str] = {}
    for old, new in pack_doc.data.get("renamed_teams", {}).items():
        path = ("renamed_teams", old)
        if old in comp.ids("team"):
            pack_doc.error(path, f"team '{old}' still exists: only removed teams are renamed", key=True)
        elif comp.check_ref(pack_doc, path, "team", new):
            renamed[old] = new
    return renamed


def _timed_calendar(data: dict[str, Any], comp: Compilation) -> str:
    """The calendar timed transitions (`after: 3bd`) count on: that of the process's default SLA policy."""
    ids = policy_ids(data)
    policy = comp.of_kind("sla_policy").get(ids[-1]) if ids else None
    return policy.data.get("calendar", TWENTY_FOUR_SEVEN) if policy else TWENTY_FOUR_SEVEN


def _languages(pack_doc: Doc, comp: Compilation) -> None:
    """The pack's `language` (default: the first of `languages`, else en) and `languages`, which must hold it."""
    data = pack_doc.data
    languages: list[str] = data.get("languages", [])
    for i, tag in enumerate(languages):
        if tag in languages[:i]:
            pack_doc.error(("languages", i), f"'{tag}' is listed twice")
    language = data.get("language", languages[0] if languages else DEFAULT_LANGUAGE)
    if languages and language not in languages:
        pack_doc.error(("language",), f"language '{language}' is not one of languages ({', '.join(languages)}): "
                                      f"add it there, or choose one of them")
    comp.language, comp.languages = language, tuple(dict.fromkeys(languages))


def _enable_plugins(pack_doc: Doc, comp: Compilation) -> None:
    names = pack_doc.data.get("plugins", [])
    if not names:
        return
    available = plugin_registry.installed()
    actions: dict[str, Any] = {}
    functions: dict[str, Any] = {}
    for i, name in enumerate(names):
        if name not in available:
            hint = did_you_mean(name, available) or (
                f" (installed: {', '.join(sorted(available))})" if available else " (no plugins are installed)")
            pack_doc.error(("plugins", i), f"unknown plugin '{name}'{hint}")
            continue
        try:
            plugin = plugin_registry.load(name, available[name])
        except Exception as exc:  # a broken plugin is a load error, not a crash
            pack_doc.error(("plugins", i), f"plugin '{name}' failed to load: {exc}")
            continue
        actions.update(plugin.actions)
        functions.update(plugin.functions)
    comp.plugin_actions = actions
    comp.plugin_functions = functions
