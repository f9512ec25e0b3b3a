"""Shared machinery of the second pass: located documents, references, expressions, actions."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from . import model as m
from .durations import DurationError, parse_duration
from .errors import DefinitionError, Position, did_you_mean, format_path
from .expressions import (
    DEFAULT_FUNCTIONS,
    Expression,
    ExpressionError,
    NameInfo,
    Scope,
    compile_expression,
)
from .shape import locate
from .source import Node, SourceDocument, to_plain
from .template_checks import template_hazards
from .templates import is_template
from .texts import DEFAULT_LANGUAGE, Text

Path = tuple[str | int, ...]
BUILTIN_ROLES = ("admin", "requester", "assignee", "team")
CLOCK_STATUSES = ("not_started", "running", "paused", "met", "breached", "cancelled")
TWENTY_FOUR_SEVEN = "24x7"
RESERVED_NAMES = frozenset({"state", "priority", "team", "assignee", "number", "process", "requester",
                            "actor", "sla", "event", "true", "false", "null", "ticket", "fields"})
# The names every expression may read besides the form's fields and `sla.CLOCK.status|percent` (SPEC 5, 14),
# with what they hold: the generic scope, `process_names` and the reference (docs/reference.md) read this.
BUILTIN_NAMES: Mapping[str, str] = {
    "state": "The ticket's state id.",
    "priority": "Its priority level (from the priority matrix).",
    "team": "The id of the team it is routed to.",
    "assignee": "The assignee's user name.",
    "number": "The ticket number.",
    "process": "The process id.",
    "channel": "How it was reported (the intake: email, alertmanager, ...; null from the API and the pages).",
    "event": "The transition being fired, or create, update, comment.",
    "requester.name": "The requester's user name.",
    "requester.vip": "Whether the requester is a VIP.",
    "requester.org": "The id of the requester's organization (null without one).",
    "requester.orgs": "A list: the requester's organization and its ancestors, nearest first "
                      "('zhejiang' in requester.orgs).",
    "requester.org_name": "The name of the requester's organization.",
    "requester.teams": "A list: the teams the requester is a member of.",
    "requester.email": "The requester's mail address.",
    "actor.name": "The user name of whoever makes the change (system for the worker).",
    "actor.roles": "A list: the actor's roles.",
    "actor.teams": "A list: the actor's teams.",
}


# Names only some actions know (SPEC 4): read elsewhere, the error says where they belong.
EVENT_NAME_NOTES: Mapping[str, str] = {
    "threshold": " (threshold is known to a clock's on_warning actions and to sla_warning triggers)",
    "comment.public": " (comment.public is known to triggers on comment)",
    "comment.author": " (comment.author is known to triggers on comment)",
    "clock": " (clock is known to sla_warning and sla_breach triggers)",
}


class Doc:
    """One merged document with its positions: values are read from `data`, errors located on `node`."""

    def __init__(self, source: SourceDocument, compilation: Compilation):
        self.source = source
        self.node = source.node
        self.data: dict[str, Any] = to_plain(source.node)
        self.kind: str = self.data["kind"]
        self.id: str = self.data["id"]
        self.subject = f"{self.kind}/{self.id}"
        self._compilation = compilation

    def pos(self, path: Path, key: bool = False) -> Position:
        node = locate(self.node, path)
        if key and node.key_pos is not None:
            return node.key_pos
        return node.pos

    def node_at(self, path: Path) -> Node:
        return locate(self.node, path)

    def where(self, path: Path) -> str:
        return str(self.pos(path))

    def error(self, path: Path, message: str, *, key: bool = False, pos: Position | None = None,
              severity: str = "error") -> None:
        self._compilation.problems.append(
            DefinitionError(pos or self.pos(path, key), self.subject, format_path(path), message, severity))

    def warning(self, path: Path, message: str) -> None:
        self.error(path, message, severity="warning")

    def runtime_error(self, path: Path, message: str, *, key: bool = False) -> None:
        """A problem that would only fail tickets at runtime (a calendar without working time): an error on
        validate and publish, a warning in a version stored before the check existed, which must keep
        loading (the engine's boundary answers for its flaw with a 409, never a 500)."""
        self.error(path, message, key=key, severity="warning" if self._compilation.stored else "error")


@dataclass
class Compilation:
    """State of one compile: documents by kind and id, problems found so far, shared lookups."""

    problems: list[DefinitionError]
    docs: dict[str, dict[str, Doc]] = field(default_factory=dict)  # shape-valid documents
    known_ids: dict[str, set[str]] = field(default_factory=dict)  # every id, valid shape or not
    broken: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> id -> data failing its shape
    removed: Mapping[str, Position] = field(default_factory=dict)
    layers: Mapping[str, int] = field(default_factory=dict)  # file -> overlay depth (base 0): `layer`
    forms: dict[str, m.FormSpec] = field(default_factory=dict)  # compiled so far
    plugin_actions: Mapping[str, Any] = field(default_factory=dict)  # action name -> callable
    plugin_functions: Mapping[str, Any] = field(default_factory=dict)  # expression function name -> callable
    stored: bool = False  # compiling a version published earlier (Doc.runtime_error)
    language: str = DEFAULT_LANGUAGE  # the pack's `language`: texts fall back to it
    languages: tuple[str, ...] = ()  # the pack's `languages`: a text per language should have each
    named_users: list[m.NamedUser] = field(default_factory=list)  # users the pack names (publish warns)

    def of_kind(self, kind: str) -> dict[str, Doc]:
        return self.docs.get(kind, {})

    def ids(self, kind: str) -> set[str]:
        return self.known_ids.get(kind, set())

    def check_ref(self, doc: Doc, path: Path, kind: str, ident: object, noun: str | None = None,
                  extra: Iterable[str] = ()) -> bool:
        """True when `ident` names a document of `kind` (or one of `extra`); else reports it."""
        candidates = self.ids(kind) | set(extra)
        if isinstance(ident, str) and ident in candidates:
            return True
        noun = noun or kind.replace("_", " ")
        doc.error(path, f"unknown {noun} '{ident}'{did_you_mean(str(ident), candidates)}"
                        f"{self.removal_note(ident)}")
        return False

    def name_user(self, doc: Doc, path: Path, name: object) -> None:
        """Remember a user name the pack uses: publishing warns when the database has no such user."""
        if isinstance(name, str) and name:
            self.named_users.append(m.NamedUser(name, doc.where(path), doc.subject, format_path(path)))

    def layer(self, file: str) -> int:
        """How far up the overlay chain `file` is (0: the first base): a value set in a higher layer than the
        document it breaks is the overlay's change, and the error belongs at its line."""
        return self.layers.get(file, 0)

    def removal_note(self, ident: object) -> str:
        pos = self.removed.get(str(ident))
        return f" (removed by the overlay at {pos})" if pos else ""

    @cached_property
    def roles(self) -> set[str]:
        roles = set(BUILTIN_ROLES)
        for team in self.of_kind("team").values():
            roles.update(team.data.get("roles", []))
        for data in self.broken.get("team", {}).values():  # its error is reported once; its roles exist
            roles.update(r for r in _strings(data.get("roles")))
        return roles

    # -- texts shown to people --------------------------------------------------------------------

    def text(self, doc: Doc, path: Path, default: str = "") -> Text:
        """The text at `path` (a string or one per language), or `default` when it is not written; a text
        per language that misses a language the pack declares is a warning (a plain string is one text
        for every language: docs/decisions.md, "Pack text by language")."""
        raw = _value_or_none(doc.data, path)
        if raw is None:
            return Text.plain(default, self.language)
        text = Text.of(raw, self.language)
        if isinstance(raw, dict) and self.languages:
            missing = [tag for tag in self.languages if not text.has(tag)]
            if missing:
                shown = text.get(missing[0])
                doc.warning(path, f"no text in {', '.join(missing)}, which the pack's languages list: "
                                  f"readers of {missing[0]} see '{_clip(shown)}'")
        return text

    # -- expressions -------------------------------------------------------------------------------

    def expression(self, doc: Doc, path: Path, scope: Scope) -> Expression | None:
        raw = _value(doc.data, path)
        if isinstance(raw, bool):
            raw = "true" if raw else "false"
        node = doc.node_at(path)
        try:
            return compile_expression(str(raw), scope, where=str(node.pos))
        except ExpressionError as exc:
            notes = [self.removal_note(name) for name in self.removed if f"'{name}'" in exc.message]
            notes += [note for name, note in EVENT_NAME_NOTES.items() if exc.message == f"unknown name '{name}'"]
            doc.error(path, exc.message + "".join(notes[:1]), pos=_offset(node, str(raw), exc.offset))
            return None

    def thresholds(self, doc: Doc, path: Path, expression: Expression | None, allowed: Sequence[float],
                   clocks: str) -> None:
        # `clocks` names what warns: "clock 'response'", "the clocks of this process"
        """A number compared with `threshold` that is not one of the clock's `warn_at` percents would never
        match: an error at the expression (`allowed` in percent, 50.0 for 50%)."""
        if expression is None or "threshold" not in expression.names:
            return
        for number in numbers_compared(expression.source, "threshold"):
            if not any(abs(number - value) < 1e-9 for value in allowed):
                shown = ", ".join(f"{value:g}%" for value in allowed)
                warns = f"{clocks} are {shown}" if shown else f"{clocks}: none (no warn_at)"
                doc.error(path, f"unknown threshold {number:g}: {warns} (threshold is the percent just "
                                f"crossed: threshold == 50 for warn_at 50%)")

    # -- durations ---------------------------------------------------------------------------------

    def duration(self, doc: Doc, path: Path, business: bool) -> m.Duration | None:
        """Parse a duration; `business` says the calendar is not 24x7, where d and w make no sense."""
        raw = _value(doc.data, path)
        try:
            duration = parse_duration(raw)
        except DurationError as exc:
            doc.error(path, str(exc))
            return None
        if business and duration.calendar_days:
            days, rest = divmod(duration.seconds, 86400)
            hours, minutes, seconds = duration.seconds // 3600, duration.seconds % 3600 // 60, duration.seconds % 60
            working = f"{hours}h" + (f"{minutes}m" if minutes else "") + (f"{seconds}s" if seconds else "")
            business_days = "bd for whole working days" if rest else f"{days}bd for working days"  # 1.5bd: invalid
            doc.error(path, f"'{raw}' counts 24-hour days, which only the 24x7 calendar has: "
                            f"use {business_days} or {working} of working time")
            return None
        return duration

    # -- templates and actions ---------------------------------------------------------------------

    def template(self, doc: Doc, path: Path) -> None:
        """Its syntax error, or each construct in it that can run away, at the template's line."""
        raw = _value(doc.data, path)
        if isinstance(raw, dict):  # one template per language: each is checked at its own line
            for tag in raw:
                self.template(doc, (*path, tag))
            return
        if not is_template(raw):
            return
        node = doc.node_at(path)
        for hazard in template_hazards(raw):
            pos, exact = template_position(node, raw, hazard.line, hazard.column)
            note = "" if exact or not raw.rstrip("\n").count("\n") else f" (line {hazard.line} of the template)"
            doc.error(path, hazard.message + note, pos=pos)

    def actions(self, doc: Doc, path: Path, form: m.FormSpec | None,
                scope: Scope | None = None) -> tuple[m.Action, ...]:
        """Compile an action list; `form` is the form of the tickets the actions run on (None: unknown);
        `scope` the names an action's `when:` may read (SPEC 4: every action may carry one)."""
        raw = _value(doc.data, path)
        if not isinstance(raw, list):
            return ()
        compiled: list[m.Action] = []
        for index, item in enumerate(raw):
            action = self._action(doc, (*path, index), item, form)
            if action is not None and "when" in item:
                when = self.expression(doc, (*path, index, "when"), scope) if scope is not None else None
                action = replace(action, when=when)
            if action is not None:
                compiled.append(action)
        return tuple(compiled)

    def _action(self, doc: Doc, path: Path, item: dict[str, Any], form: m.FormSpec | None) -> m.Action | None:
        keys = [k for k in item if k not in ("args", "when")]
        where = doc.where(path)
        if len(keys) != 1:
            doc.error(path, f"an action has exactly one of set, assign, escalate, notify, comment, create, "
                            f"cascade, plugin; this one has {', '.join(keys)}")
            return None
        (verb,) = keys
        value = item[verb]
        if "args" in item and verb != "plugin":
            doc.error((*path, "args"), "args belong to plugin actions only", key=True)
        if verb == "set":
            for field_id in value:
                if form is not None and self.field_ref(doc, (*path, "set", field_id), form, field_id, key=True):
                    self.field_value(doc, (*path, "set", field_id), form.field(field_id), value[field_id])
                self.template(doc, (*path, "set", field_id))
            return m.SetAction(m.frozen_map(value), where)
        if verb == "assign":
            if value == "route":
                return m.AssignAction(route=True, where=where)
            if not value.get("team") and not value.get("user"):
                doc.error((*path, "assign"), "assign needs a team, a user, or 'route'")
                return None
            for key in ("team", "user"):  # either may be a template, rendered when the action runs
                if key in value:
                    self.template(doc, (*path, "assign", key))
            if "team" in value and not is_template(value["team"]):
                self.check_ref(doc, (*path, "assign", "team"), "team", value["team"])
            if "user" in value and not is_template(value["user"]):
                self.name_user(doc, (*path, "assign", "user"), value["user"])
            return m.AssignAction(team=value.get("team"), user=value.get("user"), where=where)
        if verb == "escalate":
            return m.EscalateAction(where)
        if verb == "notify":
            self.check_ref(doc, (*path, "notify"), "notification", value)
            return m.NotifyAction(value, where)
        if verb == "comment":
            self.template(doc, (*path, "comment"))
            return m.CommentAction(value, where)
        if verb == "create":
            process = value["process"]
            fields = value.get("fields", {})
            if self.check_ref(doc, (*path, "create", "process"), "process", process):
                target = self.of_kind("process").get(process)
                target_form = self.forms.get(target.data.get("form", "")) if target else None
                for field_id in fields:
                    if target_form is not None and self.field_ref(doc, (*path, "create", "fields", field_id),
                                                                  target_form, field_id, key=True):
                        self.field_value(doc, (*path, "create", "fields", field_id),
                                         target_form.field(field_id), fields[field_id])
                    self.template(doc, (*path, "create", "fields", field_id))
            return m.CreateAction(process, m.frozen_map(fields), value.get("link", "child"), where)
        if verb == "cascade":
            transition, fields = value["transition"], value.get("fields", {})
            transitions = {str(t["id"]) for p in self.of_kind("process").values()
                           for t in (p.data.get("transitions") or []) if isinstance(t, dict) and "id" in t}
            if transition not in transitions:
                doc.error((*path, "cascade", "transition"),
                          f"unknown transition '{transition}'{did_you_mean(transition, sorted(transitions))}")
            for field_id in fields:
                self.template(doc, (*path, "cascade", "fields", field_id))
            if "comment" in value:
                self.template(doc, (*path, "cascade", "comment"))
            return m.CascadeAction(transition, m.frozen_map(fields), value.get("comment"), where)
        if verb == "plugin":
            if value not in self.plugin_actions:
                known = sorted(self.plugin_actions)
                hint = did_you_mean(value, known) or (
                    " (no plugin enabled in pack.yaml provides actions)" if not known else "")
                doc.error((*path, "plugin"), f"unknown plugin action '{value}'{hint}")
            return m.PluginAction(value, m.frozen_map(item.get("args", {})), where)
        return None  # pragma: no cover - the schema allows nothing else

    def field_ref(self, doc: Doc, path: Path, form: m.FormSpec, field_id: object, key: bool = False) -> bool:
        if isinstance(field_id, str) and field_id in form.by_id:
            return True
        doc.error(path, f"unknown field '{field_id}' of form '{form.id}'"
                        f"{did_you_mean(str(field_id), form.by_id)}{self.removal_note(field_id)}", key=key)
        return False

    def field_value(self, doc: Doc, path: Path, spec: m.FieldSpec, value: Any) -> None:
        """Report a literal value that the field could never hold (templates are checked at run time)."""
        if value is None or (isinstance(value, str) and "{{" in value):
            return
        problem = value_problem(spec, value)
        if problem:
            doc.error(path, problem)


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def loose_process(data: Any) -> dict[str, Any]:
    """What other documents may rely on of a process whose shape is wrong: the references that look right,
    so that its one mistake is not reported again as errors in the form, matrix and policy it uses."""
    data = data if isinstance(data, dict) else {}
    loose: dict[str, Any] = {"form": data.get("form") if isinstance(data.get("form"), str) else ""}
    priority = data.get("priority")
    if isinstance(priority, dict) and isinstance(priority.get("matrix"), str):
        loose["priority"] = {"matrix": priority["matrix"]}
    sla = data.get("sla")
    if isinstance(sla, str):
        loose["sla"] = sla
    elif isinstance(sla, list):
        loose["sla"] = [{"policy": rule["policy"]} for rule in sla
                        if isinstance(rule, dict) and isinstance(rule.get("policy"), str)]
    if isinstance(data.get("routing"), str):
        loose["routing"] = data["routing"]
    transitions = data.get("transitions")
    loose["transition_ids"] = [t["id"] for t in transitions if isinstance(t, dict) and isinstance(t.get("id"), str)
                               ] if isinstance(transitions, list) else []
    return loose


def value_problem(spec: m.FieldSpec, value: Any) -> str | None:
    """Why `value` is not a valid literal for the field, or None."""
    t = spec.type
    if t in ("choice", "multichoice"):
        values = value if t == "multichoice" and isinstance(value, list) else [value]
        for v in values:
            if v not in spec.choice_values:
                choices = spec.choice_values
                return (f"'{v}' is not a choice of '{spec.id}'{did_you_mean(str(v), choices)}"
                        f" (choices: {', '.join(choices)})")
        return None
    if t in ("integer", "rating") and (isinstance(value, bool) or not isinstance(value, int)):
        return f"'{spec.id}' holds whole numbers, not {value!r}"
    if t == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"'{spec.id}' holds numbers, not {value!r}"
    if t == "boolean" and not isinstance(value, bool):
        return f"'{spec.id}' holds true or false, not {value!r}"
    if t in ("string", "text", "email", "url", "user", "group", "date", "datetime") and not isinstance(value, str):
        return f"'{spec.id}' holds text, not {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low = spec.min if spec.min is not None else (1 if t == "rating" else None)
        high = spec.max if spec.max is not None else (5 if t == "rating" else None)
        if low is not None and value < low:
            return f"{value} is below the minimum {low:g} of '{spec.id}'"
        if high is not None and value > high:
            return f"{value} is above the maximum {high:g} of '{spec.id}'"
    return None


def _value(data: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        data = data[part]
    return data


def _value_or_none(data: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _offset(node: Node, text: str, offset: int) -> Position:
    """The position of character `offset` of an expression written in one scalar."""
    if "\n" in text or offset < 0 or node.source != text:
        return node.pos
    return Position(node.pos.file, node.pos.line, node.pos.col + offset + (0 if node.plain else 1))


def template_position(node: Node, text: str, line: int, column: int | None) -> tuple[Position, bool]:
    """Where line `line` (column `column`) of a template written in `node` is in the file, and whether that
    is exact: lines of a literal block (`|`) are lines of the file; a one-line template is a column offset
    (exact when unquoted, as `_offset` says); other multi-line scalars fold their lines, so only their start
    is known."""
    if node.block and line >= 1:
        return Position(node.pos.file, node.pos.line + line, node.block + (column - 1 if column else 0)), True
    if line == 1 and "\n" not in text.rstrip("\n"):
        return (node.pos, True) if column is None else (_offset(node, text, column - 1), True)
    return node.pos, False


FIELD_KINDS = {"integer": "number", "number": "number", "rating": "number", "boolean": "boolean",
               "multichoice": None}


def field_info(spec: m.FieldSpec) -> NameInfo:
    """What expressions know of a field: its choices and the kind of value it holds."""
    return NameInfo(spec.choice_values or None, FIELD_KINDS.get(spec.type, "text"))


def make_scope(names: Mapping[str, NameInfo], functions: Mapping[str, Any], any_field: bool = False) -> Scope:
    return Scope(dict(names), {**DEFAULT_FUNCTIONS, **functions}, any_field=any_field)


def merge_name_maps(maps: Sequence[Mapping[str, NameInfo]]) -> dict[str, NameInfo]:
    """Names of several scopes: every name of any; choices are the union (None if any is open)."""
    merged: dict[str, NameInfo] = {}
    for names in maps:
        for name, info in names.items():
            known = merged.get(name)
            if known is None:
                merged[name] = info
                continue
            choices = None if known.choices is None or info.choices is None else tuple(
                dict.fromkeys([*known.choices, *info.choices]))
            merged[name] = NameInfo(choices, known.kind if known.kind == info.kind else None)
    return merged


def numbers_compared(source: str, name: str) -> list[float]:
    """The number literals an expression compares `name` with (`threshold == 50`, `threshold in [50, 75]`),
    read from its syntax tree (already compiled, so it parses; nothing is evaluated)."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return []
    found: list[float] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if not isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn):
                continue
            for a, b in ((operands[i], operands[i + 1]), (operands[i + 1], operands[i])):
                if isinstance(a, ast.Name) and a.id == name:
                    items = b.elts if isinstance(b, ast.List) else [b]
                    found.extend(float(item.value) for item in items if isinstance(item, ast.Constant)
                                 and isinstance(item.value, int | float) and not isinstance(item.value, bool))
    return found
