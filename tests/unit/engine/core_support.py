"""A small pack loaded with the interpreter, and a fake of the core's look-ups: the core without a database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from itsm.engine.runtime.actors import Actor, actor_for, system_actor
from itsm.engine.runtime.compiled import CompiledVersion, compile_version
from itsm.engine.runtime.rules import Context, Request, plan
from itsm.engine.runtime.snapshot import HistoryEntry, TicketSnapshot, UserFacts
from itsm.interpreter import load_pack

MONDAY_9 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 09:00 in Berlin, office hours

PACK = """kind: pack
id: tiny
format: 1
timezone: Europe/Berlin
---
kind: form
id: ticket
fields:
  - {id: summary, type: string, required: true}
  - {id: impact, type: choice, choices: [high, low], default: low}
  - {id: category, type: choice, choices: [hardware, network]}
  - {id: reason, type: string}
  - {id: notes, type: text, required_when: "state == 'done'"}
  - {id: secret, type: string, visible_when: "category == 'network'"}
  - {id: code, type: string, readonly_when: "state == 'working'"}
  - {id: owner, type: string}
  - {id: touched, type: boolean}
---
kind: form
id: child
fields:
  - {id: parent, type: string}
---
kind: process
id: ticket
form: ticket
number: T
initial: new
priority: {matrix: prio}
routing: desk
sla: sla
states:
  - id: new
    on_enter: [{notify: hello}]
    on_exit: [{comment: "Leaving {{ ticket.state }}"}]
  - {id: working, fields: {category: {required: true}}}
  - id: waiting
    fields: {reason: {required: true}, owner: {hidden: true}}
  - id: done
    final: true
transitions:
  - {id: start, from: new, to: working, roles: [agent], fields: [category, impact, code]}
  - id: wait
    from: working
    to: waiting
    roles: [agent]
    fields: [reason]
    actions: [{set: {touched: true}}]
  - {id: wake, from: waiting, to: working, after: 2h}
  - {id: nudge, from: working, to: working, roles: [agent]}
  - {id: finish, from: working, to: done, roles: [agent], when: "impact == 'low'", fields: [notes]}
  - id: spawn
    from: working
    to: working
    roles: [agent]
    actions: [{create: {process: child, link: child, fields: {parent: "{{ ticket.number }}"}}}]
  - id: escalate
    from: working
    to: working
    roles: [agent]
    actions: [{escalate: next_tier}]
  - id: give
    from: working
    to: working
    roles: [agent]
    fields: [owner]
    actions: [{assign: {user: "{{ ticket.owner }}"}}]
---
kind: process
id: child
form: child
number: C
initial: open
states: [{id: open}, {id: shut, final: true}]
transitions: [{id: shut, from: open, to: shut}]
---
kind: priority_matrix
id: prio
inputs: [impact]
levels: [P1, P2]
matrix: {high: P1, low: P2}
default: P2
---
kind: routing
id: desk
rules:
  - {id: net, when: "category == 'network'", team: net}
  - {id: default, default: true, team: desk}
assignment: round_robin
---
kind: team
id: desk
roles: [agent]
escalates_to: net
members: [{user: ann}, {user: bob}]
---
kind: team
id: net
roles: [agent]
members: [{user: cid}, {user: dee}]
---
kind: notification
id: hello
to: [requester, team]
channel: email
subject: "{{ ticket.number }} received"
body: "Hello {{ requester.name }}"
---
kind: notification
id: late
to: [assignee]
channel: email
subject: "{{ ticket.number }}: {{ clock.label }} breached"
body: "{{ clock.status }}"
---
kind: calendar
id: always
hours: {mon: ["00:00-24:00"], tue: ["00:00-24:00"], wed: ["00:00-24:00"], thu: ["00:00-24:00"],
        fri: ["00:00-24:00"], sat: ["00:00-24:00"], sun: ["00:00-24:00"]}
---
kind: sla_policy
id: sla
calendar: always
clocks:
  - id: response
    label: Response
    targets: {P1: 1h, P2: 4h}
    stop: "state != 'new'"
    pause: "state == 'waiting'"
    warn_at: [50%]
    on_warning: [{comment: "Half of {{ clock.label }} gone"}]
    on_breach: [{notify: late}, {set: {touched: true}}]
"""


class FakeLookups:
    """Users, cursors, loads and numbers in memory; records what the core asked for."""

    def __init__(self, users: Sequence[str] = ("rita", "ann", "bob", "cid", "dee")) -> None:
        self.users = set(users)
        self.cursors: dict[tuple[str, str], int] = {}
        self.loads: dict[str, int] = {}
        self.numbers = 0
        self.asked: list[str] = []
        self.user_locales: dict[str, str | None] = {}
        self.histories: dict[int, list[HistoryEntry]] = {}  # ticket id -> its stored events and comments
        self.parents: dict[str, str | None] = {}  # organization id -> its parent's (None: a root)
        self.followers: dict[int, list[str]] = {}  # ticket id -> its watchers
        self.people: dict[str, User] = {}  # users with attributes of their own (the others: plain users)

    def user_exists(self, name: str) -> bool:
        return name in self.users

    def cursor(self, routing: str, team: str) -> int:
        self.asked.append(f"cursor {routing}/{team}")
        return self.cursors.get((routing, team), 0)

    def open_tickets(self, pool: Sequence[str]) -> Mapping[str, int]:
        return {name: self.loads[name] for name in pool if name in self.loads}

    def timeline(self, ticket_id: int) -> Sequence[HistoryEntry]:
        self.asked.append(f"timeline {ticket_id}")
        return self.histories.get(ticket_id, [])

    def next_number(self, prefix: str) -> str:
        self.numbers += 1
        return f"{prefix}{self.numbers:07d}"

    def locales(self, names: Sequence[str]) -> Mapping[str, str | None]:
        return {name: self.user_locales.get(name) for name in names if name in self.users}

    def watchers(self, ticket_id: int) -> Sequence[User]:
        self.asked.append(f"watchers {ticket_id}")
        return [self.people.get(name) or User(name) for name in self.followers.get(ticket_id, [])]

    def org_lineage(self, org: str) -> Sequence[str]:
        self.asked.append(f"lineage {org}")
        out: list[str] = []
        current: str | None = org
        while current is not None and current in self.parents and current not in out:
            out.append(current)
            current = self.parents[current]
        return out


class User:
    def __init__(self, name: str, is_admin: bool = False, org: str | None = None, org_contact: bool = False) -> None:
        self.name, self.email, self.is_admin, self.vip, self.org = name, f"{name}@example.com", is_admin, False, org
        self.org_contact = org_contact


def person(compiled: CompiledVersion, name: str) -> Actor:
    if name == "system":
        return system_actor()
    return actor_for(User(name), compiled.pack)


def created(context: Context, values: Mapping[str, object] | None = None, at: datetime = MONDAY_9,
            actor: str = "rita") -> TicketSnapshot:
    """A stored ticket as the core planned it (id 1, version 1)."""

    request = Request("create", person(context.compiled, actor), at, process="ticket",
                      values=dict(values or {"summary": "Printer jams"}))
    made = plan(context, None, request, UserFacts("rita"))
    assert made is not None
    return made.after(made.ticket._replace(id=1, version=1))


def tiny_pack(folder: Path) -> CompiledVersion:
    (folder / "pack.yaml").write_text(PACK)
    pack = load_pack(folder)
    return compile_version(pack.digest, pack)
