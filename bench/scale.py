"""Seed-scale benchmark (issue 18): the same requests on a 50,000-ticket and an N-ticket PostgreSQL desk.

    python bench/scale.py --tickets N [--database URL] [--json FILE] [--small 50000] [--repeat R] [--keep]

Each desk is built in a schema of its own in the database at URL (default ITSM_TEST_POSTGRES_URL, or the
local test server): the provincial desk of examples/gov-desk with 300 agents added to its L1, L2 and L3
teams, 11,000 organizations (a province, 11 cities, 100 counties, units; `itsm org import`) and 20,000
requesters in them (`itsm user import`). Then about 300 tickets are run through the engine itself on a
simulated clock (created, started, escalated, put on hold, reopened, commented, breached by the worker,
auto-confirmed, resolved, confirmed, archived, withdrawn, or left open at every stage) and their rows are
cloned by SQL into N tickets at 1,000 a day up to now (three years for a million): every ticket, event,
clock, comment, timer and search document of a clone is a template's, shifted in time and given a
requester (and organization) of its own. Tickets of the last 20 days are clones of the templates still
open (about 20,000 open tickets at any size); clocks that a worker would have breached by now are marked
so. Indexes are dropped during the copy and built after it; then VACUUM ANALYZE.

Measured on each desk through gunicorn (2 sync workers, as documented), one client, R requests each
after a warm-up (KPIs and the dashboard a tenth as often), p50 and p99: the L1 agent's queue and its
filters, `q=` common and rare terms (Chinese and English), a requester's "my tickets", a unit contact's view
of its unit, ticket detail and events, create, transition, `/api/kpis` for a month, a year and all time,
`/dashboard`, the queue page, and a sweep of 1,000 due clocks by `itsm worker --once` (its time beyond the
start-up of one with nothing due). Prints the table with the growth ratio N/small per request, the
workers' peak RSS, EXPLAIN of the main statement of the history-scanning requests on the large desk
(--explain), and the load average.
A plain script printing figures: no assertions on time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from api import free_port
from imports import write_files
from sqlalchemy import create_engine, event, text

from itsm.engine import Engine
from itsm.engine.errors import EngineError
from itsm.engine.people.orgs import import_orgs
from itsm.engine.people.user_import import import_users
from itsm.engine.people.users import add_user, create_token
from itsm.engine.reports.kpis import bring_up_to_date
from itsm.engine.worker import sweep
from itsm.store import Database
from itsm.store.kpi_facts import stored_fingerprint
from itsm.store.search_text import index_text

BENCH = Path(__file__).resolve().parent
GOV_DESK = BENCH.parent / "examples" / "gov-desk"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PER_DAY = 1000  # tickets a day: the seed's desk
WEBHOOK_EXAMPLE = "https://hooks.example.invalid/wecom-robot"
WEBHOOK_HERE = "http://127.0.0.1:9/wecom-robot"  # the discard port, closed: refused
OPEN_DAYS = 20  # the newest tickets, clones of the templates still open: ~20,000 open at any size
REQUESTERS = 20_000
AGENTS = {"service_desk": 150, "hangzhou_desk": 20, "network_ops": 25, "desktop_support": 20,
          "desktop_onsite": 20, "application_support": 20, "security_ops": 15, "vendor_support": 15,
          "app_developers": 15}  # 300 agents in L1, L2 and L3
RARE = ("Zyxel 蓝牙键盘", 8)  # text put into this many tickets of each desk: the rare terms
QUERIES = {"q common zh": "打印机", "q common en": "VPN", "q rare zh": "蓝牙键盘", "q rare en": "zyxel"}
TEXTS = (  # (short description, description, category)
    ("打印机无法打印", "办公室的打印机卡纸，无法打印公文。", "desktop"),
    ("打印机脱机", "三楼打印机显示脱机，重启后仍然不行。", "desktop"),
    ("电脑频繁死机", "今天上午开始，电脑每隔半小时左右死机一次。", "desktop"),
    ("VPN 连接频繁断开", "在家办公时 VPN 每隔一小时断开一次。", "network"),
    ("VPN disconnects every hour", "Working from home, the VPN drops every hour and must be restarted.", "network"),
    ("网站无法访问", "单位门户网站打不开，提示连接超时。", "network"),
    ("政务办公系统登录失败", "登录 OA 系统提示密码错误，重置后仍然失败。", "application"),
    ("财务系统报表导出失败", "导出月度报表时系统报错。", "application"),
    ("账号被锁定", "连续输错密码后账号被锁定，无法登录。", "account"),
    ("Outlook keeps asking for the password", "Since this morning Outlook asks for the password again "
     "and again.", "account"),
    ("终端安全软件报告病毒", "杀毒软件提示发现木马程序。", "security"),
    ("Printer offline on the third floor", "The printer near the stairs shows offline.", "desktop"),
)
IMPACTS, URGENCIES, LEVELS = ("wide", "unit", "person"), ("high", "medium", "low"), ("provincial", "city", "county")


# -- the pack and the people --------------------------------------------------------------------------

def agent_names(team: str) -> list[str]:
    initials = "".join(part[0] for part in team.split("_"))  # service_desk: sd000, sd001, ...
    return [f"{initials}{k:03d}" for k in range(AGENTS[team])]


def pack_with_agents(folder: Path) -> Path:
    """examples/gov-desk with AGENTS members added to each team (the demo members stay)."""
    pack = folder / "gov-desk"
    shutil.copytree(GOV_DESK, pack)
    chat = pack / "notifications" / "sla_breach_chat.yaml"  # a robot that refuses at once, wherever DNS is slow
    chat.write_text(chat.read_text(encoding="utf-8").replace(WEBHOOK_EXAMPLE, WEBHOOK_HERE), encoding="utf-8")
    for path in (pack / "teams").glob("*.yaml"):
        source = path.read_text(encoding="utf-8")
        out, team = [], None
        for line in source.splitlines():
            out.append(line)
            if found := re.match(r"^id: (\w+)", line):
                team = found.group(1)
            if line.startswith("members:") and team in AGENTS:
                out += [f"  - {{user: {name}, skills: [network, desktop, application, account, security, other]}}"
                        for name in agent_names(team)]
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return pack


@dataclass
class Desk:
    url: str
    schema: str
    tickets: int
    tokens: dict[str, str] = field(default_factory=dict)  # who -> API token
    names: dict[str, str] = field(default_factory=dict)  # who -> user name
    facts: dict[str, Any] = field(default_factory=dict)  # what the requests need: a unit, a ticket...


def people(db: Database, folder: Path) -> list[str]:
    """Organizations and requesters through the imports; agents and the demo desk users. The units' ids."""
    orgs_csv, users_csv, _, units = write_files(folder, 11_000, REQUESTERS)
    import_orgs(db, orgs_csv)
    import_users(db, users_csv)
    for name in ("lars", "sam", "dana", "nils", "vera", "dev", "hugo"):
        add_user(db, name, password="demo" if name == "lars" else None)
    add_user(db, "admin", admin=True, password="demo")
    for team in AGENTS:
        for name in agent_names(team):
            add_user(db, name)
    return units


# -- lifecycles the engine runs ----------------------------------------------------------------------

class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


Step = tuple[float, str, dict[str, Any]]  # hours after the previous step, what, its arguments
SCRIPTS: dict[str, list[Step]] = {
    "fixed": [(0.3, "start", {}), (3, "resolve", {}), (20, "confirm", {}), (2, "archive", {})],
    "talked": [(0.2, "comment", {}), (0.3, "start", {}), (1, "note", {}), (4, "resolve", {}), (5, "confirm", {}),
               (3, "archive", {})],
    "escalated": [(0.5, "start", {}), (1, "escalate", {}), (2, "start", {}), (8, "resolve", {}), (24, "confirm", {}),
                  (2, "archive", {})],
    "held": [(0.4, "start", {}), (2, "hold", {}), (20, "provide_info", {}), (2, "resolve", {}), (6, "confirm", {}),
             (1, "archive", {})],
    "reopened": [(0.3, "start", {}), (2, "resolve", {}), (4, "reopen", {}), (3, "resolve", {}), (8, "confirm", {}),
                 (2, "archive", {})],
    "unconfirmed": [(0.2, "start", {}), (2, "resolve", {}), (100, "archive", {})],  # auto-confirmed by then
    "late": [(30, "start", {}), (10, "resolve", {}), (6, "confirm", {}), (2, "archive", {})],  # breached first
    "withdrawn": [(1, "withdraw", {})],
    # still open when the templates stop: every stage
    "open new": [],
    "open working": [(0.5, "start", {}), (1, "note", {})],
    "open held": [(0.5, "start", {}), (2, "hold", {})],
    "open escalated": [(0.5, "start", {}), (1, "escalate", {})],
    "open resolved": [(0.5, "start", {}), (2, "resolve", {})],
}
CLOSED_MIX = ("fixed",) * 5 + ("talked",) * 3 + ("escalated",) * 2 + ("held", "reopened", "unconfirmed", "late",
                                                                        "withdrawn")
OPEN_MIX = ("open new", "open working", "open working", "open held", "open escalated", "open resolved")


def run_lifecycles(db: Database, requesters: list[str], rng: random.Random) -> None:
    """About 300 tickets through the engine on a simulated clock that only moves forward: created 10 minutes
    apart, their scripts interleaved by time, the worker swept every simulated half hour (warnings,
    breaches and their escalations, auto-confirmation)."""
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Beijing
    clock = SimClock(start)
    desk = Engine(db, clock=clock)
    plans: list[tuple[datetime, int, str, list[Step], str]] = []
    mixes = [*CLOSED_MIX * 12, *OPEN_MIX * 8]
    rng.shuffle(mixes)
    for k, script in enumerate(mixes):
        plans.append((start + timedelta(minutes=10 * k), k, script, SCRIPTS[script], requesters[k % len(requesters)]))
    agenda: list[tuple[datetime, int, int]] = [(at, k, -1) for at, k, *_ in plans]  # (when, ticket, step)
    numbers: dict[int, str] = {}
    next_sweep = start
    while agenda:
        agenda.sort()
        at, k, step = agenda.pop(0)
        while next_sweep <= at:
            clock.now = next_sweep
            sweep(desk, deliver=False)
            next_sweep += timedelta(minutes=30)
        clock.now = at
        _, _, script, steps, requester = plans[k]
        if step < 0:
            short, description, category = TEXTS[k % len(TEXTS)]
            fields = {"short_description": short, "description": description, "category": category,
                      "impact": rng.choice(IMPACTS), "urgency": rng.choice(URGENCIES), "unit_level": rng.choice(LEVELS),
                      "unit_name": "财政局", "contact_phone": "0571-87654321"}
            if category == "application":
                fields["app_system"] = "oa"
            numbers[k] = desk.create(desk.actor(requester), "incident", fields)["number"]
        else:
            _act(desk, numbers[k], requester, steps[step][1], rng)
        if step + 1 < len(steps):
            agenda.append((at + timedelta(hours=steps[step + 1][0]), k, step + 1))
    clock.now += timedelta(hours=1)
    sweep(desk, deliver=False)


def _act(desk: Engine, number: str, requester: str, what: str, rng: random.Random) -> None:
    """One step of a script, by whoever would take it now; a step the ticket no longer allows (a breach
    escalated it, the worker confirmed it) is left out, as a person would."""
    system = desk.actor("system")
    view = desk.get(system, number)
    worker = view["assignee"] or (agent_names(view["team"])[0] if view["team"] in AGENTS else "lars")
    calls: dict[str, Callable[[], Any]] = {
        "start": lambda: desk.fire(desk.actor(worker), number, "start", {"work_notes": "远程查看，正在处理。"}),
        "note": lambda: desk.comment(desk.actor(worker), number, "已联系报障人，远程协助中。", internal=True),
        "comment": lambda: desk.comment(desk.actor(requester), number, "请尽快处理，影响办公。"),
        "escalate": lambda: desk.fire(desk.actor(worker), number, "escalate",
                                      {"escalation_reason": "一线无法解决，需要二线支持。"}),
        "hold": lambda: desk.fire(desk.actor(worker), number, "hold", {"hold_reason": "awaiting_user"}),
        "provide_info": lambda: desk.fire(desk.actor(requester), number, "provide_info", {}, "已补充截图。"),
        "resolve": lambda: desk.fire(desk.actor(worker), number, "resolve", {
            "resolution_code": "fixed", "resolution_notes": "已更换配件并测试正常。"}),
        "reopen": lambda: desk.fire(desk.actor(requester), number, "reopen", {"reopen_reason": "问题再次出现。"}),
        "confirm": lambda: desk.fire(desk.actor(requester), number, "confirm", {
            "satisfaction": rng.choice((5, 5, 4, 4, 3, 2)), "feedback": "处理及时。"}),
        "archive": lambda: desk.fire(desk.actor("lars"), number, "archive", {"review_notes": "回访满意。"}),
        "withdraw": lambda: desk.fire(desk.actor(requester), number, "withdraw", {}, "问题已自行解决。"),
    }
    try:
        calls[what]()
    except EngineError:
        pass


# -- cloning ---------------------------------------------------------------------------------------

TABLES = ("tickets", "events", "sla_clocks", "comments", "ticket_search", "timers")


# The requester of the g-th cloned ticket: the requesters in turn, but every FREQUENT-th ticket is the first
# one's, a unit's contact who reports for her colleagues (125 tickets at 50,000, 2,500 at a million), so
# that "my tickets" shows a full page on both desks and its growth is the history's, not the page's.
FREQUENT = 400
REQUESTER_OF_G = f"CASE WHEN g % {FREQUENT} = 0 THEN 0 ELSE (g::bigint * 7919) % :requesters END"


def clone(db: Database, tickets: int, now: datetime) -> None:
    """The templates' rows copied into `tickets` tickets at PER_DAY a day up to `now`, then the templates
    deleted. Plain indexes are dropped for the copy and built after it; foreign keys are not checked during
    the copy (session_replication_role), the rows being copies of rows that met them."""
    with db.engine.begin() as c:
        base = c.execute(text("SELECT max(id) FROM tickets")).scalar_one()
        c.execute(text("CREATE TEMP TABLE tpl_closed AS SELECT row_number() OVER (ORDER BY id)"
                       " - 1 AS k, id, created_at, requester FROM tickets WHERE NOT is_open"))
        c.execute(text("CREATE TEMP TABLE tpl_open AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, created_at,"
                       " requester FROM tickets WHERE is_open"))
        closed = c.execute(text("SELECT count(*) FROM tpl_closed")).scalar_one()
        opened = c.execute(text("SELECT count(*) FROM tpl_open")).scalar_one()
        ended = c.execute(text("SELECT max(at) FROM events")).scalar_one()
        c.execute(text("CREATE TEMP TABLE req AS SELECT row_number() OVER (ORDER BY name) - 1 AS i, name, org "
                       "FROM users WHERE name ~ '^u[0-9]+$' AND org IS NOT NULL"))
        requesters = c.execute(text("SELECT count(*) FROM req")).scalar_one()
        open_count = min(tickets, OPEN_DAYS * PER_DAY)
        history = tickets - open_count
        first = now - timedelta(days=tickets / PER_DAY)
        step = 86400.0 / PER_DAY
        c.execute(text(
            "CREATE TEMP TABLE clone_map AS "
            "SELECT :base + 1 + g AS new_id, t.id AS tpl_id, t.requester AS tpl_requester, r.name AS requester, "
            "  r.org AS org, (CAST(:first AS timestamptz) + g * :step * interval '1 second') - t.created_at AS shift "
            "FROM generate_series(0, :history - 1) g JOIN tpl_closed t ON t.k = g % :closed "
            f"JOIN req r ON r.i = {REQUESTER_OF_G} "
            "UNION ALL "
            "SELECT :base + 1 + g, t.id, t.requester, r.name, r.org, "
            "  least((CAST(:first AS timestamptz) + g * :step * interval '1 second') - t.created_at, "
            "        CAST(:now AS timestamptz) - CAST(:ended AS timestamptz) - interval '1 minute') "
            "FROM generate_series(:history, :tickets - 1) g JOIN tpl_open t ON t.k = g % :opened "
            f"JOIN req r ON r.i = {REQUESTER_OF_G}"),
            {"base": base, "first": first, "step": step, "history": history, "closed": closed, "tickets": tickets,
             "opened": opened, "requesters": requesters, "now": now, "ended": ended})
        for table in TABLES:
            c.execute(text(f"CREATE TEMP TABLE tpl_{table} AS SELECT * FROM {table}"))
        indexes = c.execute(text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = ANY(:tables) AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
            "WHERE k.conname = i.indexname AND k.connamespace = (SELECT oid FROM pg_namespace "
            "WHERE nspname = current_schema()))"), {"tables": list(TABLES)}).all()
        for name, _ in indexes:
            c.execute(text(f'DROP INDEX "{name}"'))
        c.execute(text("SET LOCAL session_replication_role = replica"))
        requester_of = "CASE WHEN {col} = m.tpl_requester THEN m.requester ELSE {col} END"
        c.execute(text(
            "INSERT INTO tickets (id, number, process, state, is_open, priority, team, assignee, requester, fields, "
            "version, definitions_version, created_at, updated_at, state_entered_at, closed_at, org, priority_rank) "
            "SELECT m.new_id, regexp_replace(t.number, '[0-9]+$', '') || lpad(m.new_id::text, 7, '0'), t.process, "
            f"t.state, t.is_open, t.priority, t.team, {requester_of.format(col='t.assignee')}, m.requester, t.fields, "
            "t.version, t.definitions_version, t.created_at + m.shift, t.updated_at + m.shift, "
            "t.state_entered_at + m.shift, t.closed_at + m.shift, m.org, t.priority_rank "
            "FROM clone_map m JOIN tpl_tickets t ON t.id = m.tpl_id"))
        c.execute(text(
            "INSERT INTO events (ticket_id, at, actor, kind, transition, from_state, to_state, changes, comment, data, "
            f"definitions_version) SELECT m.new_id, e.at + m.shift, {requester_of.format(col='e.actor')}, e.kind, "
            "e.transition, e.from_state, e.to_state, e.changes, e.comment, e.data, e.definitions_version "
            "FROM clone_map m JOIN tpl_events e ON e.ticket_id = m.tpl_id"))
        overdue = "(s.phase = 'running' AND s.deadline + m.shift < :now)"
        c.execute(text(
            "INSERT INTO sla_clocks (ticket_id, clock, status, phase, policy, calendar, target_seconds, "
            "elapsed_seconds, started_at, running_since, stopped_at, deadline, warnings_fired, breached, "
            "breach_fired, next_timer_at, pauses) "
            f"SELECT m.new_id, s.clock, CASE WHEN {overdue} THEN 'breached' ELSE s.status END, s.phase, s.policy, "
            "s.calendar, s.target_seconds, s.elapsed_seconds, s.started_at + m.shift, s.running_since + m.shift, "
            "s.stopped_at + m.shift, s.deadline + m.shift, "
            "CASE WHEN s.next_timer_at + m.shift < :now AND s.next_timer_at < s.deadline THEN "
            "  greatest(s.warnings_fired, 1) ELSE s.warnings_fired END, "
            f"s.breached OR {overdue}, s.breach_fired OR {overdue}, "
            "CASE WHEN s.next_timer_at + m.shift >= :now THEN s.next_timer_at + m.shift "
            "     WHEN s.phase = 'running' AND s.deadline + m.shift >= :now THEN s.deadline + m.shift END, s.pauses "
            "FROM clone_map m JOIN tpl_sla_clocks s ON s.ticket_id = m.tpl_id"), {"now": now})
        # the queue's urgency columns from the clocks as cloned (`engine.runtime.urgency`): breached first,
        # then by the nearest running deadline; a ticket without open clocks keeps the defaults (2, none)
        c.execute(text(
            "UPDATE tickets t SET sla_rank = CASE WHEN o.breached THEN 0 WHEN o.due IS NOT NULL THEN 1 ELSE 2 END, "
            "  sla_due_at = CASE WHEN o.due IS NOT NULL THEN o.due WHEN o.breached THEN coalesce(o.since, :now) END "
            "FROM (SELECT ticket_id, min(deadline) FILTER (WHERE phase = 'running') AS due, "
            "      bool_or(breached) AS breached, min(started_at) FILTER (WHERE breached) AS since "
            "      FROM sla_clocks WHERE phase IN ('running', 'paused') AND ticket_id > :base GROUP BY ticket_id) o "
            "WHERE t.id = o.ticket_id"), {"now": now, "base": base})
        c.execute(text(
            "INSERT INTO comments (ticket_id, at, author, text, internal) SELECT m.new_id, x.at + m.shift, "
            f"{requester_of.format(col='x.author')}, x.text, x.internal "
            "FROM clone_map m JOIN tpl_comments x ON x.ticket_id = m.tpl_id"))
        c.execute(text(
            "INSERT INTO ticket_search (ticket_id, title, body, comments, notes) "
            "SELECT m.new_id, x.title, x.body, x.comments, x.notes FROM clone_map m "
            "JOIN tpl_ticket_search x ON x.ticket_id = m.tpl_id"))
        c.execute(text(
            "INSERT INTO timers (ticket_id, kind, key, due_at, fired_at) SELECT m.new_id, x.kind, x.key, "
            "x.due_at + m.shift, x.fired_at + m.shift FROM clone_map m JOIN tpl_timers x ON x.ticket_id = m.tpl_id "
            "WHERE x.fired_at IS NOT NULL OR x.due_at + m.shift > :now"), {"now": now})
        rare_text, rare_count = RARE
        c.execute(text(
            "UPDATE ticket_search SET title = title || ' ' || :cut WHERE ticket_id IN "
            "(SELECT :base + 1 + (g * :every) FROM generate_series(0, :count - 1) g)"),
            {"cut": index_text(rare_text), "base": base, "every": max(1, tickets // rare_count), "count": rare_count})
        c.execute(text("SET LOCAL session_replication_role = origin"))
    for _name, definition in indexes:  # one transaction each: a GIN index over a million documents takes a while
        with db.engine.begin() as c:
            c.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            c.execute(text(definition))
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM tickets WHERE id <= :base"), {"base": base})  # the templates, cascading
        c.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))"))
        c.execute(text("UPDATE number_sequences SET last_value = (SELECT max(id) FROM tickets)"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f"VACUUM ANALYZE {', '.join(TABLES)}, users, organizations"))


def build(base_url: str, schema: str, tickets: int, folder: Path) -> Desk:
    admin = create_engine(base_url)
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = schema_url(base_url, schema)
    db = Database(url)
    db.upgrade()
    people(db, folder)
    pack = pack_with_agents(folder)
    Engine(db).definitions.publish_path(pack)
    rng = random.Random(18)
    with db.engine.connect() as c:  # requesters of the templates: units outside Hangzhou and inside it
        requesters = [row[0] for row in c.execute(text(
            "SELECT name FROM users WHERE name ~ '^u[0-9]+$' AND org IS NOT NULL ORDER BY name LIMIT 40"))]
    run_lifecycles(db, requesters, rng)
    clone(db, tickets, datetime.now(UTC))
    sum_kpis(db)
    db.dispose()
    return describe(url, schema, tickets, pack)


def sum_kpis(db: Database) -> None:
    """The KPI sums of every ticket (the copy ran without the triggers that note changed tickets), as the
    worker builds them after an upgrade: timed."""
    engine = Engine(db)
    started = time.perf_counter()
    counted = bring_up_to_date(engine, engine.definitions.active().pack, engine.clock())
    with db.engine.connect() as c:  # as autovacuum would after a rebuild: the medians' index-only walks need it
        c = c.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("kpi_facts", "kpi_days", "kpi_pending"):
            c.execute(text(f"VACUUM ANALYZE {table}"))
        days = c.execute(text("SELECT count(*) FROM kpi_days")).scalar_one()
    print(f"  KPI sums of {counted:,} tickets ({days:,} day rows) in {time.perf_counter() - started:.0f} s",
          flush=True)


def brought_up_to_date(url: str) -> None:
    """A desk of an earlier run migrated to this code's schema, with its KPI sums if it had none."""
    db = Database(url)
    db.upgrade()
    with db.read() as session:
        summed = stored_fingerprint(session) is not None
    if not summed:
        sum_kpis(db)
    db.dispose()


def schema_url(base_url: str, schema: str) -> str:
    return f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema}"


def describe(url: str, schema: str, tickets: int, pack: Path) -> Desk:
    """What the requests need from a built desk: a requester, a unit and its contact, a ticket, a busy
    agent, the sizes; and the tokens of the people who send them."""
    db = Database(url)
    desk = Desk(url, schema, tickets)
    with db.engine.begin() as c:
        requester = c.execute(text(  # the frequent reporter: a full page of her own tickets on either desk
            "SELECT requester FROM tickets WHERE requester LIKE 'u%' GROUP BY requester ORDER BY count(*) DESC, "
            "requester LIMIT 1")).scalar_one()
        unit, contact = c.execute(text(
            "SELECT t.org, u.name FROM tickets t JOIN users u ON u.org = t.org AND u.name <> t.requester "
            "WHERE t.org LIKE '%.u%' ORDER BY t.id DESC LIMIT 1")).one()
        c.execute(text("UPDATE users SET org_contact = true WHERE name = :name"), {"name": contact})
        desk.facts["ticket"] = c.execute(text(
            "SELECT number FROM tickets WHERE team = 'service_desk' ORDER BY id DESC OFFSET 100 LIMIT 1")).scalar_one()
        desk.facts["agent"] = c.execute(text(
            "SELECT assignee FROM tickets WHERE is_open AND assignee LIKE 'sd%' GROUP BY assignee "
            "ORDER BY count(*) DESC LIMIT 1")).scalar_one()
        desk.facts["open"] = c.execute(text("SELECT count(*) FROM tickets WHERE is_open")).scalar_one()
        desk.facts["events"] = c.execute(text("SELECT count(*) FROM events")).scalar_one()
        desk.facts["clocks"] = c.execute(text("SELECT count(*) FROM sla_clocks")).scalar_one()
        units = c.execute(text("SELECT count(*) FROM organizations")).scalar_one()
    desk.facts.update(unit=unit, city=unit.split(".")[0], units=units)
    desk.names = {"agent": "lars", "requester": requester, "contact": contact, "admin": "admin"}
    desk.tokens = {who: create_token(db, name) for who, name in desk.names.items()}
    desk.facts["pack"] = str(pack)
    db.dispose()
    return desk


# -- measuring -------------------------------------------------------------------------------------

@contextmanager
def gunicorn(desk: Desk, workdir: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port, log = free_port(), workdir / f"gunicorn-{desk.schema}.log"
    env = {**os.environ, "ITSM_DATABASE_URL": desk.url, "ITSM_PACK": desk.facts["pack"]}
    command = [str(Path(sys.executable).with_name("gunicorn")), "--workers", "2", "--worker-class", "sync",
               "--bind", f"127.0.0.1:{port}", "itsm.web:create_app()"]
    with log.open("w") as output:
        server = subprocess.Popen(command, env=env, cwd=workdir, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield port, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def peak_rss_mib(server: subprocess.Popen[bytes]) -> float:
    """The largest peak resident set (VmHWM) among the gunicorn master's worker processes."""
    peaks = []
    for proc in Path("/proc").iterdir():
        try:
            status = (proc / "status").read_text() if proc.name.isdigit() else ""
        except OSError:
            continue
        parent, peak = re.search(r"PPid:\s+(\d+)", status), re.search(r"VmHWM:\s+(\d+) kB", status)
        if parent and peak and int(parent.group(1)) == server.pid:
            peaks.append(int(peak.group(1)) / 1024)
    return max(peaks, default=0.0)


def login(port: int, name: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"http://127.0.0.1:{port}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    answer = session.post(f"http://127.0.0.1:{port}/login", data={
        "name": name, "password": "demo", "csrf_token": token.group(1)}, allow_redirects=False)
    assert answer.status_code in (302, 303), answer.text[:300]
    return session


def requests_of(desk: Desk) -> list[tuple[str, str, str, str]]:
    """(label, who, method, path) of every request measured."""
    today = datetime.now(UTC).date()
    month_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    month_end = today.replace(day=1) - timedelta(days=1)
    year = f"from={today - timedelta(days=365)}&to={today}"
    f = desk.facts
    out = [("queue", "agent", "GET", "/api/tickets?limit=25"),
           ("queue state", "agent", "GET", "/api/tickets?limit=25&state=in_progress"),
           ("queue priority", "agent", "GET", "/api/tickets?limit=25&priority=P2"),
           ("queue team", "agent", "GET", "/api/tickets?limit=25&team=network_ops"),
           ("queue assignee", "agent", "GET", f"/api/tickets?limit=25&assignee={f['agent']}"),
           ("queue sla=breached", "agent", "GET", "/api/tickets?limit=25&sla=breached"),
           ("queue sla=at_risk", "agent", "GET", "/api/tickets?limit=25&sla=at_risk"),
           ("queue org (city)", "agent", "GET", f"/api/tickets?limit=25&org={f['city']}")]
    out += [(label, "agent", "GET", f"/api/tickets?limit=25&q={words}") for label, words in QUERIES.items()]
    out += [("my tickets (requester)", "requester", "GET", "/api/tickets?limit=25"),
            ("unit contact's view", "contact", "GET", f"/api/tickets?limit=25&org={f['unit']}"),
            ("ticket detail", "agent", "GET", f"/api/tickets/{f['ticket']}"),
            ("ticket events", "agent", "GET", f"/api/tickets/{f['ticket']}/events"),
            ("kpis month", "admin", "GET", f"/api/kpis?from={month_start}&to={month_end}"),
            ("kpis year", "admin", "GET", f"/api/kpis?{year}"),
            ("kpis all time", "admin", "GET", "/api/kpis"),
            ("dashboard page", "admin-page", "GET", "/dashboard"),
            ("queue page", "agent-page", "GET", "/queue")]
    return out


def quantiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return (statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000)


def measure_desk(desk: Desk, repeat: int, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with gunicorn(desk, workdir) as (port, server):
        root = f"http://127.0.0.1:{port}"
        api = requests.Session()
        pages = {"admin-page": login(port, "admin"), "agent-page": login(port, "lars")}

        def call(who: str, method: str, path: str, **kwargs: Any) -> requests.Response:
            client = pages.get(who, api)
            headers = {} if who in pages else {"Authorization": f"Bearer {desk.tokens[who]}"}
            return client.request(method, root + path, headers=headers, timeout=300, **kwargs)

        for label, who, method, path in requests_of(desk):
            heavy = label.startswith(("kpis", "dashboard"))
            times, status = [], 0
            for i in range(1 + (max(2, repeat // 10) if heavy else repeat)):
                started = time.perf_counter()
                response = call(who, method, path)
                elapsed = time.perf_counter() - started
                status = response.status_code
                if i:  # the first one warms up
                    times.append(elapsed)
            results[label] = {"p50": quantiles(times)[0], "p99": quantiles(times)[1], "status": status,
                              "n": len(times)}
            print(f"  {desk.tickets:>9,} {label:<24}{results[label]['p50']:9.1f}{results[label]['p99']:9.1f}"
                  f"  {status}", flush=True)
        results["peak worker RSS MiB"] = peak_rss_mib(server)
        fields = {"short_description": "打印机无法打印", "description": "卡纸。", "category": "desktop",
                  "impact": "person", "urgency": "medium", "unit_level": "provincial", "unit_name": "财政局"}
        created, fired = [], []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            answer = call("requester", "POST", "/api/tickets", json={"process": "incident", "fields": fields})
            created.append(time.perf_counter() - started)
            assert answer.status_code == 201, answer.text[:300]
            ticket = answer.json()
            token = desk.tokens.get(ticket["assignee"]) or create_token(Database(desk.url), ticket["assignee"])
            desk.tokens[ticket["assignee"]] = token
            started = time.perf_counter()
            answer = call(ticket["assignee"], "POST", f"/api/tickets/{ticket['number']}/transitions/start",
                          json={"fields": {}})
            fired.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text[:300]
        for label, times in (("create", created[1:]), ("transition", fired[1:])):
            results[label] = {"p50": quantiles(times)[0], "p99": quantiles(times)[1], "status": 200, "n": len(times)}
            print(f"  {desk.tickets:>9,} {label:<24}{results[label]['p50']:9.1f}{results[label]['p99']:9.1f}")
    results["sweep of 1,000 due clocks"] = sweep_1000(desk)
    return results


def make_due(db: Database, count: int = 1000, skip: int = 0) -> None:
    """`count` running clocks of the newest tickets (after the newest `skip`) breaching now: their breach
    actions (escalation, notifications) run when swept."""
    with db.engine.begin() as c:
        c.execute(text(
            "UPDATE sla_clocks SET next_timer_at = now() - interval '1 minute', "
            "deadline = now() - interval '1 minute', breached = false, breach_fired = false, status = 'running' "
            "WHERE id IN (SELECT id FROM sla_clocks WHERE phase = 'running' ORDER BY id DESC "
            "OFFSET :skip LIMIT :count)"), {"count": count, "skip": skip})


def sweep_1000(desk: Desk) -> dict[str, Any]:
    """`itsm worker --once` with nothing due (the start-up), then with 1,000 running clocks made due: the
    difference, and what the second one said it did. The command also delivers the outbox (here to
    addresses that refuse at once: SMTP on port 1, the chat robot's webhook on 127.0.0.1:9), so the sweep alone is
    timed too, in this process (`worker.sweep` without delivery, the engine already started)."""
    env = {**os.environ, "ITSM_DATABASE_URL": desk.url, "ITSM_SMTP_PORT": "1"}
    command = [str(Path(sys.executable).with_name("itsm")), "worker", "--once"]

    def once() -> tuple[float, str]:
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        return time.perf_counter() - started, "; ".join(done.stdout.strip().splitlines()[-2:])

    def drained() -> None:  # no delivery of earlier messages in the timing: mark what is queued as sent
        with db.engine.begin() as c:
            c.execute(text("UPDATE outbox SET status = 'sent' WHERE status <> 'sent'"))

    db = Database(desk.url)
    once()  # whatever fell due since the build
    drained()
    idle, _ = once()
    make_due(db)
    busy, said = once()
    drained()
    engine = Engine(db)
    sweep(engine, deliver=False)  # started, nothing due
    make_due(db, skip=1000)  # other tickets than the command's: their histories as the desk left them
    started = time.perf_counter()
    alone = sweep(engine, deliver=False)
    in_process = time.perf_counter() - started
    drained()
    with db.engine.begin() as c:
        left = c.execute(text("SELECT count(*) FROM sla_clocks WHERE next_timer_at < now() - interval '30 seconds'"))
        remaining = left.scalar_one()
    db.dispose()
    print(f"  {desk.tickets:>9,} sweep: {busy - idle:.2f} s beyond start-up ({idle:.2f} s); {said}; "
          f"{remaining} still due; the sweep alone {in_process:.2f} s ({alone.summary()})")
    return {"seconds": busy - idle, "startup": idle, "said": said, "still_due": remaining,
            "sweep_alone": in_process, "sweep_alone_said": alone.summary()}


def explain(desk: Desk) -> dict[str, str]:
    """EXPLAIN ANALYZE of the statements behind the history-scanning requests, run in-process through the
    engine as the server runs them."""
    db = Database(desk.url)
    engine = Engine(db)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if ("FROM tickets" in statement or "ticket_search" in statement) and "ORDER BY" in statement:
            captured.append((statement, parameters))

    plans = {}
    for label, who, filters in (("my tickets (requester)", "requester", {}),
                                ("unit contact's view", "contact", {"org": desk.facts["unit"]}),
                                ("queue sla=breached", "agent", {"sla": "breached"}),
                                ("queue sla=at_risk", "agent", {"sla": "at_risk"}),
                                ("q rare zh", "agent", {"q": QUERIES["q rare zh"]}),
                                ("q common en", "agent", {"q": QUERIES["q common en"]})):
        captured.clear()
        engine.list_tickets(engine.actor(desk.names[who]), filters, 25)
        searches = [one for one in captured if "ticket_search" in one[0]]  # a search's tries (store.search._window)
        plan = []
        for statement, parameters in searches if "q" in filters else captured[:1]:
            with db.engine.connect() as c:
                rows = c.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + statement, parameters).all()
            plan.append("\n".join(row[0] for row in rows))
        plans[label] = "\n--\n".join(plan)
    db.dispose()
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=50_000, help="the desk the large one is compared with")
    parser.add_argument("--database", default=os.environ.get("ITSM_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--repeat", type=int, default=30, help="requests per measurement (KPIs: a tenth)")
    parser.add_argument("--keep", action="store_true", help="keep the schemas (itsm_scale_N) afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="measure (and keep) the desks an earlier --keep or --build-only left, unbuilt")
    parser.add_argument("--explain", action="store_true", help="print the plans of the large desk")
    parser.add_argument("--build-only", action="store_true",
                        help="build the desks and keep them for a later --reuse (measure on a quiet machine)")
    args = parser.parse_args()
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    report: dict[str, Any] = {"load_start": os.getloadavg(), "desks": {}}
    with tempfile.TemporaryDirectory(prefix="itsm-scale-") as tmp:
        desks = []
        for size in (args.small, args.tickets):
            folder = Path(tmp) / str(size)
            folder.mkdir()
            schema = f"itsm_scale_{size}"
            started = time.perf_counter()
            if args.reuse:  # the schema of an earlier run with --keep
                brought_up_to_date(schema_url(args.database, schema))
                desk = describe(schema_url(args.database, schema), schema, size, pack_with_agents(folder))
            else:
                desk = build(args.database, schema, size, folder)
            built = time.perf_counter() - started
            print(f"built {size:,} tickets in {built:.0f} s: {desk.facts['open']:,} open, {desk.facts['events']:,} "
                  f"events, {desk.facts['clocks']:,} clocks", flush=True)
            report["desks"][size] = {"build_seconds": built, "facts": desk.facts}
            desks.append(desk)
        if args.build_only:
            return
        figures = {}
        for desk in desks:
            figures[desk.tickets] = measure_desk(desk, args.repeat, Path(tmp))
            report["desks"][desk.tickets]["figures"] = figures[desk.tickets]
        if args.explain:
            report["explain"] = explain(desks[-1])
            for label, plan in report["explain"].items():
                print(f"\n-- EXPLAIN {label} ({args.tickets:,} tickets)\n{plan}")
        small, large = figures[args.small], figures[args.tickets]
        print(f"\n{'request':<26}{'p50':>9}{'p99':>9}{'p50':>9}{'p99':>9}{'growth':>8}   (ms; "
              f"{args.small:,} then {args.tickets:,} tickets)")
        for label, one in small.items():
            if isinstance(one, dict) and "p50" in one:
                two = large[label]
                print(f"{label:<26}{one['p50']:9.1f}{one['p99']:9.1f}{two['p50']:9.1f}{two['p99']:9.1f}"
                      f"{two['p50'] / one['p50']:7.2f}x")
        label = "sweep of 1,000 due clocks"
        print(f"{'itsm worker --once, 1,000':<26}{small[label]['seconds']:9.2f} s{large[label]['seconds']:17.2f} s"
              "   (beyond its start-up, delivery included)")
        print(f"{'the sweep alone':<26}{small[label]['sweep_alone']:9.2f} s{large[label]['sweep_alone']:17.2f} s")
        print(f"{'peak worker RSS MiB':<26}{small['peak worker RSS MiB']:9.0f}{large['peak worker RSS MiB']:27.0f}")
        if not args.keep and not args.reuse:  # desks built apart are measured again and again
            admin = create_engine(args.database)
            with admin.begin() as c:
                for desk in desks:
                    c.execute(text(f'DROP SCHEMA "{desk.schema}" CASCADE'))
            admin.dispose()
    report["load_end"] = os.getloadavg()
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
