"""The JSON Schema of every kind: the one place where the allowed keys of the language are declared.

The same schemas validate documents at load, are written out by `itsm schema` for editors, and feed the
generated reference in docs/. Meaning (references, reachability, expressions) is checked afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import TRIGGER_EVENTS
from .texts import LANGUAGE_PATTERN

SCHEMA_BASE = "https://itsm-platform.org/schemas/format-1/"
ID_PATTERN = "^[a-z][a-z0-9_]*$"
ORG_ID_PATTERN = "^[a-z0-9][a-z0-9_.-]*$"  # organizations (SPEC 14): `zhejiang`, `330106`, `hz.xihu-01`
MAX_ORG_ID = 100  # the column's length
KINDS = ("pack", "form", "process", "priority_matrix", "calendar", "sla_policy", "team", "routing",
         "notification", "scenario", "intake")
INTAKE_SOURCES = ("alertmanager", "json", "email")
FIELD_TYPES = ("string", "text", "integer", "number", "boolean", "date", "datetime", "choice",
               "multichoice", "user", "group", "email", "url", "rating")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _str(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _obj(description: str, properties: dict[str, Any], required: tuple[str, ...] = (),
         **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "description": description, "properties": properties,
                              "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def _list(description: str, items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "description": description, "items": items, **extra}


def _ref(name: str, description: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}", "description": description}


def _text(description: str) -> dict[str, Any]:
    """Text shown to people: a string, or a mapping of language tag -> string (SPEC 15)."""
    return _ref("text", description)


ID = {"type": "string", "pattern": ID_PATTERN,
      "description": "Identifier: lowercase letters, digits and _, starting with a letter."}

DEFS: dict[str, Any] = {
    "id": ID,
    "expression": {"type": ["string", "boolean"],
                   "description": "An expression (SPEC 5), e.g. \"category == 'network' and impact == 'high'\"."},
    "duration": {"type": ["string", "integer"],
                 "description": "Working time on the clock's calendar: 15m, 2h, 1h30m, 3bd; d and w only on 24x7."},
    "text": {"description": "Text shown to people: a string, or one per language such as "
                            "{zh-CN: 新建, en: New} (a missing language falls back to the pack's `language`).",
             "anyOf": [{"type": "string"},
                       {"type": "object", "propertyNames": {"pattern": LANGUAGE_PATTERN}, "minProperties": 1,
                        "additionalProperties": {"type": "string"}}]},
    "roles": {"type": "array", "items": {"type": "string", "pattern": ID_PATTERN},
              "description": "Role names: team roles, admin, requester, assignee, team."},
    "action": _obj(
        "One action; a mapping with exactly one action key.",
        {
            "set": {"type": "object", "description": "Field values to set; strings may use {{ }} templates.",
                    "propertyNames": {"pattern": ID_PATTERN}},
            "assign": {"description": "`route` runs routing again; {team, user} assigns directly.",
                       "anyOf": [{"type": "string", "enum": ["route"]},
                                 _obj("A direct assignment.",
                                      {"team": _str("Team id; may be a {{ }} template."),
                                       "user": _str("User name; may be a {{ }} template such as "
                                                    "`{{ actor.name }}` or `{{ ticket.FIELD }}`.")})]},
            "escalate": _str("Move the ticket to the next tier (the team's `escalates_to`).",
                             enum=["next_tier"]),
            "notify": _str("Id of a notification to send (queued in the outbox)."),
            "comment": _str("A comment added to the ticket; may use {{ }} templates."),
            "create": _obj("Create a linked ticket.", {
                "process": _str("Process of the new ticket."),
                "fields": {"type": "object", "description": "Field values; strings may use {{ }} templates."},
                "link": _str("How the new ticket relates to this one.", enum=["parent", "child", "related"]),
            }, required=("process",)),
            "cascade": _obj("Fire a transition on every child of this ticket (linked `child`) whose state "
                            "offers it, as the system, in the same transaction: the children of an outage "
                            "resolved with it.", {
                "transition": _str("Transition id of the children's process."),
                "fields": {"type": "object", "description": "Field values for the children's form; strings may "
                                                             "use {{ }} templates of this (the parent) ticket."},
                "comment": _str("A public comment on each child; may use {{ }} templates."),
            }, required=("transition",)),
            "plugin": _str("Name of a plugin action (SPEC 12)."),
            "args": {"type": "object", "description": "Arguments of a plugin action."},
            "when": _ref("expression", "Run the action only while this is true (skipped when false); in "
                                       "`on_warning` actions `threshold` is the percent just crossed."),
        },
        minProperties=1,
    ),
    "actions": _list("Actions run in order, in the same transaction.", {"$ref": "#/$defs/action"}),
}

FIELD = _obj("A form field.", {
    "id": _ref("id", "Field id, used in expressions and the API."),
    "label": _text("Label shown on forms."),
    "help": _text("Help text shown under the field."),
    "type": _str("Field type.", enum=list(FIELD_TYPES)),
    "required": {"type": "boolean", "description": "Always required."},
    "default": {"description": "Default value when the ticket is created."},
    "min": {"type": "number", "description": "Smallest value (integer, number, rating)."},
    "max": {"type": "number", "description": "Largest value (integer, number, rating)."},
    "min_length": {"type": "integer", "minimum": 0, "description": "Fewest characters."},
    "max_length": {"type": "integer", "minimum": 1, "description": "Most characters."},
    "pattern": _str("Regular expression the value must match."),
    "choices": _list("Allowed values of a choice or multichoice field.",
                     {"anyOf": [{"type": "string"},
                                _obj("A choice with a label.", {"value": _str("Stored value."),
                                                                "label": _text("Shown label.")},
                                     required=("value",))]}),
    "visible_when": _ref("expression", "Shown only while this is true."),
    "required_when": _ref("expression", "Required while this is true."),
    "readonly_when": _ref("expression", "Read-only while this is true."),
    "audience": _str("Who fills the field in and who reads it: `everyone` (the default: requesters too), `agent` "
                     "(the desk's own: never on a requester's forms, refused from a requester through the API, "
                     "and never shown to requesters: page, API, timeline) or `answer` (the desk fills it in, "
                     "the requester reads it: resolution notes).",
                     enum=["everyone", "agent", "answer"]),
}, required=("id", "type"))

FLAGS = _obj("Per-state flags of one field.", {
    "required": {"type": "boolean", "description": "Required in this state."},
    "readonly": {"type": "boolean", "description": "Read-only in this state."},
    "hidden": {"type": "boolean", "description": "Hidden in this state."},
})

STATE = _obj("A state of the process.", {
    "id": _ref("id", "State id."),
    "label": _text("Label shown to people."),
    "description": _text("What the state means."),
    "final": {"type": "boolean", "description": "Tickets in a final state are closed; no way out needed."},
    "fields": {"type": "object", "description": "Field id -> flags that apply while the ticket is here.",
               "additionalProperties": FLAGS},
    "on_enter": _ref("actions", "Actions run when a ticket enters the state."),
    "on_exit": _ref("actions", "Actions run when a ticket leaves the state."),
}, required=("id",))

TRANSITION = _obj("A transition between states.", {
    "id": _ref("id", "Transition id, used in the API."),
    "label": _text("Button label."),
    "description": _text("What the transition does."),
    "from": {"description": "Source state id, a list of them, or \"*\" for every non-final state.",
             "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "to": _str("Target state id."),
    "roles": _ref("roles", "Who may fire it; omitted = any authenticated user."),
    "when": _ref("expression", "Guard: the transition is offered only while this is true."),
    "fields": _list("Fields shown on the transition form.", {"type": "string"}),
    "actions": _ref("actions", "Actions run after the state changes."),
    "after": _ref("duration", "Timed: the worker fires it this long after the ticket entered the state."),
}, required=("id", "from", "to"))

CLOCK = _obj("An SLA clock.", {
    "id": _ref("id", "Clock id (sla.ID in expressions and the API)."),
    "label": _text("Label shown to people."),
    "start": _ref("expression", "Starts the clock (default true)."),
    "stop": _ref("expression", "Stops the clock: met or breached."),
    "pause": _ref("expression", "Pauses the clock while true."),
    "reset": _ref("expression", "Restarts the clock from zero."),
    "cancel": _ref("expression", "Cancels the clock (no outcome)."),
    "targets": {"type": "object", "description": "Priority level -> duration.",
                "additionalProperties": {"$ref": "#/$defs/duration"}},
    "calendars": {"type": "object", "description": "Priority level -> calendar id (or 24x7).",
                  "additionalProperties": {"type": "string"}},
    "warn_at": _list("Warning thresholds, e.g. [50%, 75%].",
                     {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?%$"}),
    "on_warning": _ref("actions", "Actions when a warning threshold is reached."),
    "on_breach": _ref("actions", "Actions when the deadline passes."),
}, required=("id", "targets"))

TRIGGER = _obj("A trigger: on an event, when a condition holds, run actions (after the event's own actions, "
                "in the same transaction).", {
    "id": _ref("id", "Trigger id (for overlays)."),
    "on": _str("The event: create, transition (any transition; `event` names it), update (fields edited), "
               "comment (a comment added; `comment.public` and `comment.author`), sla_warning (`clock`, "
               "`threshold`), sla_breach (`clock`).", enum=list(TRIGGER_EVENTS)),
    "when": _ref("expression", "Run only while this is true (over the ticket as it now is)."),
    "actions": _ref("actions", "Actions run in order."),
}, required=("on", "actions"))

TRIAGE = _obj(
    "Triage assistance (SPEC 16): which choice fields, and whether the team, are suggested from a ticket's text, "
    "learned from the desk's own solved tickets (`itsm triage train`).", {
        "fields": _list("Choice fields of the process's form to suggest values for.",
                        {"type": "string", "pattern": ID_PATTERN}),
        "team": {"type": "boolean", "description": "Suggest the team that resolves tickets like this one."},
        "min_confidence": {"type": "number", "minimum": 0, "maximum": 1,
                           "description": "Suggestions below this probability are not shown (default 0.5)."},
        "apply": {"type": "object", "description": (
            "Field id -> {above: P}: at create, an empty field is set to the model's best value when its "
            "probability is above P, with an event of kind `triage` naming the model. Without it, suggestions "
            "never change a ticket."),
                  "propertyNames": {"pattern": ID_PATTERN},
                  "additionalProperties": _obj("When the model's value is set by itself.", {
                      "above": {"type": "number", "minimum": 0, "maximum": 1,
                                "description": "The probability the best value must exceed."}},
                      required=("above",))},
    })

SCENARIO_STEP = _obj("One step: move the clock, do at most one action, check the result.", {
    "at": _str("Move the clock to this instant (ISO 8601 with offset)."),
    "advance": _ref("duration", "Move the clock by this much wall-clock time."),
    "create": _obj("Create a ticket.", {
        "process": _str("Process id."),
        "as": _str("Acting user (default: system)."),
        "requester": _str("Requester user name."),
        "fields": {"type": "object", "description": "Field values."},
    }, required=("process",)),
    "transition": _str("Fire this transition."),
    "fields": {"type": "object", "description": "Field values for the transition."},
    "comment": _str("A comment (alone: add a comment; with a transition: its comment)."),
    "internal": {"type": "boolean", "description": "The comment is internal."},
    "update": {"type": "object", "description": "Update these fields."},
    "watch": _str("Add this user as a watcher of the ticket (as the acting user)."),
    "unwatch": _str("Remove this user from the ticket's watchers."),
    "as": _str("Acting user (default: system, which holds every role)."),
    "ticket": {"type": "integer", "minimum": 1, "description": "The Nth ticket created (default: the last)."},
    "expect": {"type": "object", "description": (
        "Dotted paths into the ticket -> expected values; `notified: [ID, ...]` and `not_notified: [...]`: "
        "notifications queued (or not) during this step, each a notification id or {id: ID, to: [NAME, ...]} "
        "(user names, team:ID or addresses among its recipients).")},
    "expect_error": {"type": "integer", "description": "The HTTP status the API would answer."},
})

LITERAL = {"type": ["string", "number", "boolean"], "description": "A value, or a {{ }} template over the payload."}

MAPPED_VALUE = {"anyOf": [LITERAL, _obj("A lookup table: the rendered `from` is looked up in `map`.", {
    "from": _str("Template over the payload, e.g. \"{{ labels.severity | lower }}\"."),
    "map": {"type": "object", "description": "Rendered value -> field value.", "additionalProperties": LITERAL},
    "default": {**LITERAL, "description": "Field value when `from` is not in `map` (omitted: the field is left out)."},
}, required=("from", "map"))], "description": "A literal, a {{ }} template over the payload, or {from, map, default}."}


def _doc(kind: str, description: str, properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict:
    props = {"kind": {"const": kind, "description": "Document kind."},
             "id": _ref("id", f"Id of this {kind}, unique among {kind} documents."), **properties}
    schema = _obj(description, props, required=("kind", "id", *required))
    schema.update({"$schema": "https://json-schema.org/draft/2020-12/schema",
                   "$id": f"{SCHEMA_BASE}{kind}.json", "title": f"ITSM {kind.replace('_', ' ')}",
                   "$defs": DEFS})
    return schema


SCHEMAS: Mapping[str, dict[str, Any]] = {
    "pack": _doc("pack", "The pack itself: one per pack.", {
        "name": _text("Name shown to people."),
        "description": _text("What this pack is for."),
        "format": {"type": "integer", "description": "Language version; this release reads format 1."},
        "timezone": _str("Default IANA time zone for calendars and display, e.g. Europe/Berlin."),
        "language": _str("Language tag of the pack's texts, e.g. zh-CN or en (default: the first of "
                         "`languages`, else en): the language of texts a reader's language lacks, and of "
                         "pages when nothing else chooses one.", pattern=LANGUAGE_PATTERN),
        "languages": _list("Language tags every text should be written in; `itsm validate` warns about a "
                           "text given per language that misses one.",
                           {"type": "string", "pattern": LANGUAGE_PATTERN}, minItems=1),
        "extends": _str("Base pack directory, relative to this one: this pack is an overlay."),
        "plugins": _list("Plugin names to enable.", {"type": "string"}),
        "renamed_teams": {"type": "object", "description": (
            "old team id -> new team id: publishing moves the open tickets of a team the pack no longer has to "
            "the new one (each with an event) instead of refusing (SPEC 7)."),
                          "propertyNames": {"pattern": ID_PATTERN}, "additionalProperties": {"type": "string"}},
    }, required=("format",)),
    "form": _doc("form", "Fields of a ticket; compiles to the JSON Schema the API validates with.", {
        "title": _text("Title shown to people."),
        "description": _text("What the form is for."),
        "fields": _list("The fields.", FIELD),
    }, required=("fields",)),
    "process": _doc("process", "A ticket process: states, transitions and what runs on them.", {
        "title": _text("Title shown to people."),
        "description": _text("What the process is for."),
        "form": _str("Form id of the tickets."),
        "number": _str("Ticket number prefix, e.g. INC.", pattern="^[A-Z][A-Z0-9]{0,9}$"),
        "initial": _str("State of new tickets."),
        "priority": _obj("How the priority is set.", {"matrix": _str("Priority matrix id.")},
                         required=("matrix",)),
        "sla": {"description": "SLA policy id, or first-match rules [{when, policy}, {default: true, policy}].",
                "anyOf": [{"type": "string"},
                          _list("Rules.", _obj("A rule.", {
                              "id": _ref("id", "Rule id (for overlays)."),
                              "when": _ref("expression", "Condition."),
                              "default": {"type": "boolean", "description": "The rule used when none match."},
                              "policy": _str("SLA policy id.")}, required=("policy",)))]},
        "routing": _str("Routing id, run when a ticket is created."),
        "states": _list("The states.", STATE, minItems=1),
        "transitions": _list("The transitions.", TRANSITION),
        "renamed_states": {"type": "object", "description": "old state id -> new state id.",
                           "additionalProperties": {"type": "string"}},
        "happy_path": _list("The usual way through, for the diagram: state ids from `initial` to a final state, "
                            "each reached from the one before by a transition (default: the shortest way).",
                            {"type": "string"}, minItems=2),
        "triage": TRIAGE,
        "triggers": _list("Actions run on events: create, transition, update, comment, sla_warning, sla_breach.",
                          TRIGGER),
    }, required=("form", "initial", "states")),
    "priority_matrix": _doc("priority_matrix", "Priority from choice fields (impact x urgency).", {
        "inputs": _list("Choice fields of the form, outermost first.", {"type": "string"}, minItems=1),
        "levels": _list("Levels, most urgent first.",
                        {"anyOf": [{"type": "string", "pattern": "^[A-Za-z0-9_]+$"},
                                   _obj("A level with a label.", {"id": _str("Level id."),
                                                                  "label": _text("Shown label.")},
                                        required=("id",))]}, minItems=1),
        "matrix": {"type": "object", "description": "Input values -> ... -> level."},
        "default": _str("Level when an input is empty."),
        "adjust": _list("Adjustments applied in order after the lookup.", _obj("An adjustment.", {
            "id": _ref("id", "Adjustment id (for overlays)."),
            "when": _ref("expression", "Condition."),
            "raise": {"type": "integer", "minimum": 1, "description": "Levels more urgent."},
            "lower": {"type": "integer", "minimum": 1, "description": "Levels less urgent."},
        }, required=("when",))),
    }, required=("inputs", "levels", "matrix")),
    "calendar": _doc("calendar", "Business hours, holidays and exceptional working days.", {
        "name": _text("Name shown to people."),
        "timezone": _str("IANA time zone; default: the pack's."),
        "hours": _obj("Weekday -> working intervals (local time); at least one day has some.",
                      {day: _list(f"Working intervals on {day}.", {"type": "string"}) for day in WEEKDAYS}),
        "holidays": _list("Days off: dates, {date, name} or {from, to, name}.",
                          {"anyOf": [{"type": "string"},
                                     _obj("A holiday or a range of them.", {
                                         "id": _ref("id", "Id (for overlays)."),
                                         "date": _str("The date (YYYY-MM-DD)."),
                                         "from": _str("First date of a range."),
                                         "to": _str("Last date of a range."),
                                         "name": _text("Name shown to people.")})]}),
        "workdays": _list("Exceptional working days (make-up days) and their hours.", _obj("A working day.", {
            "id": _ref("id", "Id (for overlays)."),
            "date": _str("The date (YYYY-MM-DD)."),
            "hours": _list("Working intervals.", {"type": "string"}),
            "name": _text("Name shown to people.")}, required=("date", "hours"))),
    }, required=("hours",)),
    "sla_policy": _doc("sla_policy", "Service-level clocks and their targets by priority.", {
        "name": _text("Name shown to people."),
        "calendar": _str("Default calendar id of every clock (or 24x7)."),
        "clocks": _list("The clocks.", CLOCK, minItems=1),
    }, required=("clocks",)),
    "team": _doc("team", "A team of agents at one support tier.", {
        "name": _text("Name shown to people."),
        "description": _text("What the team handles."),
        "tier": _str("Support tier.", enum=["L1", "L2", "L3"]),
        "roles": _ref("roles", "Roles every member holds."),
        "escalates_to": _str("Team id that `escalate: next_tier` moves tickets to."),
        "lead": _str("User name of the team lead (the recipient `team_lead` of notifications)."),
        "email": _str("Team mailbox."),
        "org_scope": _str("Organization id (SPEC 14): the team sees and is routed only the tickets of this "
                          "organization and the organizations under it (a province or city desk).",
                          pattern=ORG_ID_PATTERN),
        "members": _list("Members.", _obj("A member.", {
            "user": _str("User name."),
            "skills": _list("Skills.", {"type": "string"})}, required=("user",))),
    }),
    "routing": _doc("routing", "Which team gets a ticket, and who in it.", {
        "rules": _list("First match wins; exactly one default rule, last.", _obj("A rule.", {
            "id": _ref("id", "Rule id (for overlays and the event log)."),
            "when": _ref("expression", "Condition."),
            "default": {"type": "boolean", "description": "The rule used when none match."},
            "team": _str("Team id."),
            "user": _str("User name (assign directly)."),
        }, required=("team",)), minItems=1),
        "assignment": _str("How a member is chosen.", enum=["manual", "round_robin", "least_loaded"]),
        "skills": _str("Field id whose value members' skills are matched against."),
    }, required=("rules",)),
    "notification": _doc("notification", "A message sent through the outbox.", {
        "to": _list("Recipients of an email: requester, assignee, team, team_lead (the lead of the ticket's "
                    "team), watchers (people following the ticket), a team role, team:ID, user:NAME or addresses.",
                    {"type": "string"},
                    minItems=1),
        "channel": _str("Delivery channel.", enum=["email", "webhook"]),
        "subject": _text("Subject template (Jinja, sandboxed); one per language "
                            "when the recipients read different ones."),
        "body": _text("Body template (Jinja, sandboxed); one per language when the "
                         "recipients read different ones."),
        "url": _str("Webhook URL."),
        "content_type": _str("Webhook only: the Content-Type of the POST (default: application/json when the "
                             "rendered body is JSON, else text/plain; charset=utf-8)."),
        "headers": {"type": "object", "description": "Webhook only: extra HTTP headers (name -> value), such as "
                                                     "an API key the receiver asks for.",
                    "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9-]*$"},
                    "additionalProperties": {"type": "string"}},
    }),
    "scenario": _doc("scenario", "A process test run by `itsm test`.", {
        "description": _str("What the scenario shows."),
        "start": _str("Instant the scenario clock starts at (ISO 8601 with offset)."),
        "users": {"type": "object", "description": "User name -> attributes.",
                  "additionalProperties": _obj("User attributes.", {
                      "vip": {"type": "boolean", "description": "VIP requester."},
                      "org": _str("Organization id (one of `orgs`, or a root organization made for it)."),
                      "org_contact": {"type": "boolean",
                                      "description": "Contact of the organization (sees its subtree's tickets)."},
                      "full_name": _str("Name as people call them."),
                      "email": _str("Mail address."),
                      "admin": {"type": "boolean", "description": "Administrator."},
                      "timezone": _str("Display time zone.")})},
        "orgs": {"type": "object", "description": "Organization id -> attributes: the organizations the "
                                                  "scenario's users belong to, parents in any order.",
                 "propertyNames": {"pattern": ORG_ID_PATTERN},
                 "additionalProperties": _obj("Organization attributes.", {
                     "name": _str("Display name (default: the id)."),
                     "parent": _str("Parent organization id (one of `orgs`)."),
                     "vip": {"type": "boolean", "description": "A VIP organization."}})},
        "steps": _list("The steps, in order.", SCENARIO_STEP, minItems=1),
    }, required=("steps",)),
    "intake": _doc("intake", "Tickets from other tools and from mail: how a payload maps to a ticket.", {
        "description": _text("What this intake is for."),
        "source": _str("alertmanager: Prometheus Alertmanager webhooks, json: any JSON object (both POST "
                       "/api/intake/ID); email: mail (itsm mail-intake).", enum=list(INTAKE_SOURCES)),
        "process": _str("Process of the tickets this intake opens."),
        "key": _str("Template giving the de-duplication key: one open ticket per key (json: required; "
                    "alertmanager: default the alert fingerprint; email: the Message-ID, not configurable)."),
        "fields": {"type": "object", "description": (
            "Field id -> value for new tickets: a literal, a {{ }} template over the payload, or a lookup "
            "{from: TEMPLATE, map: {rendered: value}, default: value}. Templates see alert, labels, annotations, "
            "payload and status (alertmanager), payload (json), mail and sender (email); a value the field "
            "cannot hold is left out."),
                   "propertyNames": {"pattern": ID_PATTERN}, "additionalProperties": MAPPED_VALUE},
        "update": _list("Fields mapped again and written when a key repeats while its ticket is open.",
                        {"type": "string"}),
        "resolve_when": _ref("expression", "When a payload resolves its ticket (alertmanager default: "
                                           "status == 'resolved'), over the payload's names."),
        "on_resolve": _obj("What resolving does.", {
            "transitions": _list("Transitions tried in order; the first the ticket's state allows fires.",
                                 {"type": "string"}, minItems=1),
            "fields": {"type": "object", "description": "Field values given to the transition (templates allowed).",
                       "propertyNames": {"pattern": ID_PATTERN}, "additionalProperties": LITERAL},
            "comment": _str("Comment added when no transition can fire (template)."),
        }, required=("transitions",)),
        "on_reply": _obj("What a mail that names an existing ticket in its subject does.", {
            "comment": _str("The comment added for the sender (template; default: the mail's text)."),
        }),
        "unknown_senders": _str("Mail from an address no user has: reject it (default) or create a user.",
                                enum=["reject", "create"]),
    }, required=("source", "process")),
}


def remove_document_schema(kind: str) -> dict[str, Any]:
    """An overlay document that deletes a base document: {kind, id, remove: true}."""
    return {"type": "object", "properties": {"kind": {"const": kind}, "id": ID, "remove": {"const": True}},
            "required": ["kind", "id", "remove"], "additionalProperties": False}


def editor_schema() -> dict[str, Any]:
    """One schema for any document of a pack, dispatching on `kind` (for editors' YAML extensions).

    The kind schemas are embedded as well (a compound document): `$ref: process.json` resolves against
    `$id`, a URL nobody serves, so validators that follow the standard find them here; editors that resolve
    it next to the file find the file `itsm schema` wrote beside it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}document.json",
        "title": "ITSM pack document",
        "description": "Any document of an ITSM pack; `kind` selects the schema.",
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(KINDS), "description": "Document kind."}},
        "allOf": [{"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                   "then": {"$ref": f"{kind}.json"}} for kind in KINDS],
        "$defs": {kind: SCHEMAS[kind] for kind in KINDS},
    }


def _partial(node: Any) -> Any:
    """A schema for what an overlay may write (SPEC 3.1): nothing is required, since the base has it, and
    every mapping with an `id` may be `{id: x, remove: true}` or say `before: ID` / `after: ID` (its place in
    the list); unknown keys stay errors."""
    if isinstance(node, list):
        return [_partial(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _partial(value) for key, value in node.items()
           if not (key == "required" and isinstance(value, list))}  # the keyword, not a property `required`
    properties = out.get("properties")
    if isinstance(properties, dict) and "id" in properties and "kind" not in properties:
        places = {"before": {"type": "string", "description": "Place this item just before the item with this id."},
                  "after": {"type": "string", "description": "Place this item just after the item with this id."}}
        out["properties"] = {**{k: v for k, v in places.items() if k not in properties}, **properties,  # transitions:
                             "remove": {"const": True, "description": "Delete this item."}}  # after is the delay
    return out


def overlay_schema() -> dict[str, Any]:
    """One schema for any document of an overlay pack (`extends`): a partial document of any kind, merged onto
    the base's, or `{kind, id, remove: true}`. For editors; `itsm validate` checks the merged result."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}overlay.json",
        "title": "ITSM overlay document",
        "description": "Any document of an overlay pack: only what differs from the base; `kind` selects the "
                       "schema.",
        "type": "object",
        "required": ["kind", "id"],
        "properties": {"kind": {"enum": list(KINDS), "description": "Document kind."}},
        "allOf": [{"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                   "then": {"anyOf": [remove_document_schema(kind), {"$ref": f"overlay-{kind}.json"}]}}
                  for kind in KINDS],
        "$defs": {kind: {**_partial(SCHEMAS[kind]), "$id": f"{SCHEMA_BASE}overlay-{kind}.json"} for kind in KINDS},
    }

