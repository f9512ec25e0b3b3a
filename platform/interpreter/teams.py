"""Teams and their escalation chains, routing rules, and notifications."""

from __future__ import annotations

import re

from . import model as m
from .context import BUILTIN_ROLES, Compilation, Doc
from .errors import did_you_mean
from .expressions import Scope

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*(\s*;\s*[\w.-]+=[\w.\"-]+)*$")
# Headers a webhook's `headers:` may not set: the platform's own, and those HTTP itself decides.
_OWN_HEADERS = frozenset({"content-type", "content-length", "host", "transfer-encoding", "connection",
                          "x-itsm-signature", "x-itsm-delivery", "x-itsm-notification", "x-itsm-ticket"})
# Recipients the ticket decides (SPEC 4 notification): its requester, assignee, team, the team's lead, watchers.
TICKET_RECIPIENTS = ("requester", "assignee", "team", "team_lead", "watchers")


def compile_team(doc: Doc, comp: Compilation) -> m.TeamSpec:
    data = doc.data
    escalates_to = data.get("escalates_to")
    if escalates_to is not None:
        if escalates_to == doc.id:
            doc.error(("escalates_to",), "a team cannot escalate to itself")
        else:
            comp.check_ref(doc, ("escalates_to",), "team", escalates_to)
    members = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("members", [])):
        if raw["user"] in seen:
            doc.error(("members", i, "user"), f"user '{raw['user']}' is listed twice")
            continue
        seen.add(raw["user"])
        comp.name_user(doc, ("members", i, "user"), raw["user"])
        members.append(m.Member(raw["user"], tuple(raw.get("skills", []))))
    if isinstance(data.get("lead"), str):
        comp.name_user(doc, ("lead",), data["lead"])
    if data.get("lead") == "system":
        doc.error(("lead",), "'system' is the built-in actor, not a person who can lead a team")
    for i, role in enumerate(data.get("roles", [])):
        if role in BUILTIN_ROLES and role != "admin":
            doc.error(("roles", i), f"'{role}' is given by the ticket, not by a team")
    scope = data.get("org_scope")
    return m.TeamSpec(doc.id, comp.text(doc, ("name",), doc.id.replace("_", " ").capitalize()), data.get("tier"),
                      tuple(data.get("roles", [])), escalates_to, tuple(members), comp.text(doc, ("description",)),
                      data.get("email"), scope, doc.where(("org_scope",)) if scope is not None else "",
                      data.get("lead"))


def check_escalation_cycles(comp: Compilation) -> None:
    teams = comp.of_kind("team")
    reported: set[str] = set()
    for start in sorted(teams):
        chain = [start]
        current = teams[start].data.get("escalates_to")
        while current in teams and current not in chain:
            chain.append(current)
            current = teams[current].data.get("escalates_to")
        if current == start and len(chain) > 1 and start not in reported:
            reported.update(chain)
            loop = " -> ".join([*chain, start])
            teams[start].error(("escalates_to",), f"escalation cycle: {loop}")


def compile_routing(doc: Doc, comp: Compilation, forms: list[m.FormSpec], scope: Scope) -> m.RoutingSpec:
    data = doc.data
    rules = []
    raw_rules = data["rules"]
    defaults = [i for i, rule in enumerate(raw_rules) if rule.get("default")]
    if not defaults:
        doc.error(("rules",), "no default rule: end the rules with {default: true, team: ...}")
    for extra in defaults[1:]:
        doc.error(("rules", extra, "default"), f"a second default rule (the first is rules[{defaults[0]}]): "
                                               f"exactly one rule is the default")
    if len(defaults) == 1 and defaults[0] != len(raw_rules) - 1:
        doc.error(("rules", defaults[0], "default"), "the default rule must be the last rule: "
                                                     "rules after it would never match")
    for i, raw in enumerate(raw_rules):
        path = ("rules", i)
        comp.check_ref(doc, (*path, "team"), "team", raw["team"])
        team_doc = comp.of_kind("team").get(raw["team"])
        scoped = team_doc.data.get("org_scope") if team_doc is not None else None
        if raw.get("default") and scoped:
            doc.error((*path, "team"), f"the default rule's team '{raw['team']}' serves only organization "
                                       f"'{scoped}' (org_scope): the default rule takes every ticket no other rule "
                                       f"takes, so name a team without org_scope")
        if raw.get("user") is not None:
            comp.name_user(doc, (*path, "user"), raw["user"])
            team = comp.of_kind("team").get(raw["team"])
            users = [member["user"] for member in team.data.get("members", [])] if team else []
            if team is not None and raw["user"] not in users:
                doc.warning((*path, "user"), f"user '{raw['user']}' is not a member of team '{raw['team']}'")
        when = None
        if "when" in raw:
            if raw.get("default"):
                doc.error((*path, "when"), "the default rule has no condition", key=True)
            when = comp.expression(doc, (*path, "when"), scope)
        elif not raw.get("default"):
            doc.error(path, "a rule needs a condition (when) or default: true")
        rules.append(m.RoutingRule(raw["team"], raw.get("id", f"rule{i + 1}"), when, raw.get("user"),
                                   bool(raw.get("default"))))
    skills = data.get("skills")
    if skills is not None:
        for form in forms:
            if skills not in form.by_id:
                doc.error(("skills",),
                          f"unknown field '{skills}' of form '{form.id}'{did_you_mean(skills, form.by_id)}")
    return m.RoutingSpec(doc.id, tuple(rules), data.get("assignment", "manual"), skills)


def compile_notification(doc: Doc, comp: Compilation) -> m.NotificationSpec:
    data = doc.data
    channel = data.get("channel", "email")
    recipients = [*TICKET_RECIPIENTS, *sorted(comp.roles)]
    if channel == "email" and not data.get("to"):
        doc.error(("channel",) if "channel" in data else ("id",), "an email notification needs recipients (to)")
    for i, target in enumerate(data.get("to", [])):
        path = ("to", i)
        if target.startswith("team:"):
            comp.check_ref(doc, path, "team", target[5:])
        elif target.startswith("user:"):
            if not target[5:]:
                doc.error(path, "user: needs a user name, such as user:alice")
            else:
                comp.name_user(doc, path, target[5:])
        elif "@" in target:
            if not _EMAIL.match(target):
                doc.error(path, f"invalid mail address '{target}'")
        elif target not in recipients:
            doc.error(path, f"unknown recipient '{target}'{did_you_mean(target, recipients)} "
                            f"(use a role, team:ID, user:NAME or a mail address)")
    if channel == "webhook" and not data.get("url"):
        doc.error(("channel",), "a webhook notification needs a url")
    if channel == "email" and "url" in data:
        doc.error(("url",), "url belongs to webhook notifications", key=True)
    if channel == "email" and not data.get("subject"):
        doc.error((), "an email notification needs a subject")
    url = data.get("url")
    if url is not None and not url.startswith(("https://", "http://")):
        doc.error(("url",), f"invalid webhook url '{url}': use http:// or https://")
    for key in ("content_type", "headers"):
        if channel != "webhook" and key in data:
            doc.error((key,), f"{key} belongs to webhook notifications", key=True)
    content_type = data.get("content_type")
    if content_type is not None and not _MEDIA_TYPE.match(content_type):
        doc.error(("content_type",), f"invalid content type '{content_type}': write it as type/subtype, such as "
                                     f"application/json or text/plain; charset=utf-8")
    headers = data.get("headers", {})
    for name, value in headers.items():
        if name.lower() in _OWN_HEADERS:
            doc.error(("headers", name), f"the header {name} is set by the platform (use content_type for the "
                                         f"Content-Type)" if name.lower() == "content-type" else
                      f"the header {name} is set by the platform", key=True)
        elif "\n" in value or "\r" in value:
            doc.error(("headers", name), "a header value is one line")
    for key in ("subject", "body"):
        if key in data:
            comp.template(doc, (key,))
    return m.NotificationSpec(doc.id, tuple(data.get("to", [])), channel, comp.text(doc, ("subject",)),
                              comp.text(doc, ("body",)), url, content_type, m.frozen_map(dict(headers)))
