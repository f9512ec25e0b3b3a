"""One visibility rule, asked two ways (SPEC 9, 14): the SQL condition every list, search, suggestion and
report selects through (`store.visibility`, from `visibility.viewer_of`) must pick exactly the tickets the
core's per-ticket rule (`access.sees_ticket`, `access.works_on_ticket`) lets the same person read and work
on. Random organization trees, tickets and people, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from itsm.engine.runtime.actors import Actor, actor_for
from itsm.engine.runtime.sight import sees_ticket, works_on_ticket
from itsm.engine.runtime.snapshot import TicketRow
from itsm.engine.runtime.visibility import viewer_of
from itsm.interpreter import load_pack
from itsm.interpreter.model import PackSpec
from itsm.store import Database, orgs
from itsm.store import visibility as store_visibility
from itsm.store.tickets import TICKETS, insert_ticket
from itsm.store.visibility import sees, works_on

PACK = """kind: pack
id: scopes
format: 1
timezone: UTC
---
kind: form
id: ticket
fields: [{id: summary, type: string}]
---
kind: process
id: ticket
form: ticket
number: T
initial: open
routing: desk_routing
states: [{id: open}, {id: done, final: true}]
transitions: [{id: finish, from: open, to: done, roles: [agent]}]
---
kind: process
id: note
form: ticket
number: N
initial: open
states: [{id: open}, {id: done, final: true}]
transitions: [{id: finish, from: open, to: done, roles: [clerk]}]
---
kind: routing
id: desk_routing
rules: [{id: default, default: true, team: desk}]
---
kind: team
id: desk
roles: [agent]
members: [{user: p0}]
---
kind: team
id: clerks
roles: [clerk]
members: [{user: p1}]
"""
SCOPED_TEAMS = 5  # teams s0..s4, agents (and s4 clerks too), each scoped to an organization of the tree
PEOPLE = [f"p{i}" for i in range(8)]
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def pack_with_scopes(folder: Path, scopes: list[str]) -> PackSpec:
    teams = "".join(f"---\nkind: team\nid: s{i}\nroles: [agent{', clerk' if i == 4 else ''}]\norg_scope: {scope}\n"
                    f"members: [{{user: p{i + 2}}}]\n" for i, scope in enumerate(scopes))
    (folder / "pack.yaml").write_text(PACK + teams, encoding="utf-8")
    return load_pack(folder)


def random_tree(rng: random.Random, size: int) -> list[tuple[str, str | None]]:
    tree: list[tuple[str, str | None]] = []
    for i in range(size):
        parent = rng.choice(tree)[0] if tree and rng.random() < 0.85 else None
        tree.append((f"o{i}.x-{i % 3}", parent))  # ids with . - and digits, as SPEC 14 allows
    return tree


@pytest.mark.parametrize(("seed", "few"), [(1, 500), (2, 500), (3, 2), (4, 2)])
def test_the_sql_condition_and_the_per_ticket_rule_agree(db: Database, tmp_path: Path, seed: int, few: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`few`: subtrees of at most that many organizations are lists of ids, larger ones subqueries."""
    monkeypatch.setattr(store_visibility, "FEW", few)
    rng = random.Random(seed)
    tree = random_tree(rng, 30)
    ids = [org for org, _ in tree]
    pack = pack_with_scopes(tmp_path, [rng.choice(ids) for _ in range(SCOPED_TEAMS)])
    with db.write() as session:
        for org, parent in tree:
            orgs.add(session, org, org, parent=parent)
        for i in range(160):
            process = rng.choice(["ticket", "note"])
            insert_ticket(session, {
                "number": f"X{i:07d}", "process": process, "state": "open", "is_open": True, "priority": None,
                "team": rng.choice([None, "desk", "clerks", *(f"s{j}" for j in range(SCOPED_TEAMS))]),
                "assignee": rng.choice([None, *PEOPLE]), "requester": rng.choice(["r0", "r1", *PEOPLE]),
                "fields": {}, "version": 1, "definitions_version": "x", "created_at": NOW, "updated_at": NOW,
                "state_entered_at": NOW, "closed_at": None,
                "org": rng.choice([None, "gone", *ids])})
    people = [actor_for(Person(name, rng.choice([None, *ids]), rng.random() < 0.5), pack) for name in PEOPLE]
    people += [Actor("r0", org=rng.choice(ids), org_contact=True), Actor("r1"),
               Actor("z", frozenset({"agent"}), tuple(f"s{j}" for j in range(SCOPED_TEAMS)))]
    with db.read() as session:
        rows = {row.id: row for row in session.connection().execute(select(TICKETS))}
        for person in people:
            viewer = viewer_of(session, person, pack)
            assert viewer is not None
            seen = set(session.scalars(select(TICKETS.c.id).where(sees(viewer))))
            agent = works_on(viewer)
            worked = set(session.scalars(select(TICKETS.c.id).where(agent))) if agent is not None else set()

            def lineage(org: str | None) -> tuple[str, ...]:
                return orgs.lineage_of(session, org) if org else ()

            expected_seen = {i for i, row in rows.items()
                             if sees_ticket(person, pack, TicketRow(*row), lambda row=row: lineage(row.org))}
            expected_worked = {i for i, row in rows.items()
                               if works_on_ticket(person, pack, TicketRow(*row), lambda row=row: lineage(row.org))}
            assert seen == expected_seen, person
            assert worked == expected_worked, person
            assert worked <= seen
        assert viewer_of(session, Actor("root", is_admin=True), pack) is None  # admins: no condition


class Person:
    def __init__(self, name: str, org: str | None, org_contact: bool) -> None:
        self.name, self.email, self.is_admin, self.vip = name, None, False, False
        self.org, self.org_contact = org, org_contact
