"""KPIs (SPEC 10 `GET /api/kpis`, issue 7): figures over the tickets created in a period, from the stored
tickets, their event log and their SLA clock rows.

Counts are SQL aggregates (GROUP BY over the period's tickets, `itsm.store.reports`). The two durations
need a median, which SQLite cannot compute, so one pass over the events returns a row of seconds and flags
per ticket and the mean and median are taken here. What each figure counts is decided here and handed to
the store as states, kinds and bounds; docs/decisions.md defines every figure.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from itsm.interpreter import model as m
from itsm.store import kpi_facts
from itsm.store import orgs as stored_orgs
from itsm.store import reports as stored
from itsm.store.reports import ClockCount, TicketScope, TicketTiming

from ..errors import N_, BadRequest, Forbidden
from ..runtime.actors import SYSTEM, Actor, is_agent_for
from ..runtime.engine import Engine
from ..runtime.visibility import viewer_of
from .kpi_terms import (
    AGENT_EVENTS,
    NONE,
    RATINGS,
    UNCOUNTED_CLOCKS,
    KpiScope,
    clock_outcomes,
    durations,
    durations_of,
    percent,
    rating_field,
    resolution_states,
    work_states,
)
from .kpis_by_org import org_csv_rows, org_rows

if TYPE_CHECKING:
    from itsm.store.database import Session

PARAMETERS = ("from", "to", "process", "team", "org", "group_by", "format")
GROUPINGS = ("org",)  # `group_by=org`: one row per organization under `org` (or per root)
AGE_BUCKETS: tuple[tuple[str, int | None], ...] = (("<1d", 1), ("1-3d", 3), ("3-7d", 7), ("7-30d", 30),
                                                    (">30d", None))
FOLD_WHEN_READ = 2000  # pending tickets a report folds into the sums itself (more: the worker's job)
FOLD_BATCH = 1000  # tickets per fold transaction


# -- parameters and access ----------------------------------------------------------------------------------

def parse_instant(name: str, text: str, end: bool = False) -> datetime:
    """An ISO date (a whole day in UTC: `to` includes it) or an ISO instant (UTC when it has no offset)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            value = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return value + timedelta(days=1) if end else value
        value = datetime.fromisoformat(text)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: past year 9999 once in UTC or a day later
        raise BadRequest(N_("%(name)s must be an ISO date (2026-03-01) or instant (2026-03-01T08:00:00Z), not "
                            "%(value)s", name=name, value=repr(text[:40])),
                         [{"field": name, "message": N_("not an ISO date or instant")}]) from None


def kpi_scope(pack: m.PackSpec, actor: Actor, params: Mapping[str, str]) -> KpiScope:
    """Check the query parameters and the caller's access (SPEC 9): agents get the processes they hold a
    role in, admins every process, anyone else a 403."""
    unknown = [key for key in params if key not in PARAMETERS]
    if unknown:
        raise BadRequest(N_("unknown query parameter '%(name)s' (expected %(known)s)", name=unknown[0],
                            known=", ".join(PARAMETERS)),
                         [{"field": key, "message": N_("unknown parameter")} for key in unknown])
    everything = actor.is_admin or actor.is_system
    visible = tuple(p for p in pack.processes.values() if everything or is_agent_for(actor, p, pack))
    if not visible:
        raise Forbidden(N_("KPIs are for agents and admins"))
    process_id = params.get("process") or None
    if process_id is not None:
        if process_id not in pack.processes:
            raise BadRequest(N_("no process '%(process)s'", process=process_id),
                             [{"field": "process", "message": N_("unknown process")}])
        if all(p.id != process_id for p in visible):
            raise Forbidden(N_("you hold no role in process '%(process)s'", process=process_id))
        visible = (pack.processes[process_id],)
    team = params.get("team") or None
    if team is not None and team not in pack.teams:
        raise BadRequest(N_("no team '%(team)s'", team=team), [{"field": "team", "message": N_("unknown team")}])
    start = parse_instant("from", params["from"]) if params.get("from") else None
    end = parse_instant("to", params["to"], end=True) if params.get("to") else None
    if start is not None and end is not None and start >= end:
        raise BadRequest(N_("from must be before to"), [{"field": "to", "message": N_("not after from")}])
    group_by = params.get("group_by") or None
    if group_by is not None and group_by not in GROUPINGS:
        raise BadRequest(N_("group_by must be %(known)s", known=", ".join(GROUPINGS)),
                         [{"field": "group_by", "message": N_("unknown grouping")}])
    return KpiScope(visible, start, end, team, process_id, params.get("org") or None, group_by)


def kpi_report(engine: Engine, actor: Actor, params: Mapping[str, str]) -> dict[str, Any]:
    """`GET /api/kpis`: the scope from the parameters, the figures from one read transaction."""
    pack = engine.definitions.active().pack
    scope = kpi_scope(pack, actor, params)
    bring_up_to_date(engine, pack, engine.clock(), rebuild_when_read=True)
    with engine.db.read() as session:
        scope = replace(scope, viewer=viewer_of(session, actor, pack))
        return compute_kpis(session, pack, scope, engine.clock())


def kpi_rows(report: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """The report as (metric, dimension, value) rows, one per figure: the CSV export."""
    rows: list[tuple[str, str, Any]] = []
    for name, value in report["tickets"].items():
        rows.append((f"tickets_{name}", "", value))
    for figure in ("time_to_acknowledge", "time_to_resolve"):
        for name, value in report[figure].items():
            rows.append((f"{figure}_{name}", "", value))
    for line in report["sla"]:
        dimension = f"clock={line['clock']};priority={line['priority']}"
        rows.extend((f"sla_{key}", dimension, line[key])
                    for key in ("met", "breached", "running", "total", "compliance_percent"))
    backlog = report["backlog"]
    rows.append(("backlog_open", "", backlog["open"]))
    for group, prefix in (("by_team", "team"), ("by_priority", "priority"), ("by_age", "age")):
        rows.extend(("backlog", f"{prefix}={key}", count) for key, count in backlog[group].items())
    for figure in ("reopen", "first_contact_resolution"):
        rows.extend((f"{figure}_{name}", "", value) for name, value in report[figure].items())
    satisfaction = report["satisfaction"]
    rows.append(("satisfaction_count", "", satisfaction["count"]))
    rows.append(("satisfaction_average", "", satisfaction["average"]))
    rows.extend(("satisfaction", f"rating={key}", count) for key, count in satisfaction["distribution"].items())
    rows.extend(("tickets_by_channel", f"channel={key}", count) for key, count in report["channels"].items())
    rows.extend(("tickets_created_by_week", f"week={line['week']}", line["created"])
                for line in report.get("by_week", []))
    rows.extend(org_csv_rows(report.get("by_org", [])))
    return rows


# -- the figures ----------------------------------------------------------------------------------------------

def compute_kpis(session: Session, pack: m.PackSpec, scope: KpiScope, now: datetime) -> dict[str, Any]:
    """Every figure for the scope, as `GET /api/kpis` returns it: from the per-day sums when they can answer
    (`answers_from_sums`), else from the tickets' events. Both give the same figures."""
    tickets = scope.tickets()
    if scope.org is not None:
        if stored_orgs.by_id(session, scope.org) is None:
            raise BadRequest(N_("no organization '%(org)s'", org=scope.org),
                             [{"field": "org", "message": N_("unknown organization")}])
        tickets = stored.for_org(session, tickets, scope.org)
    report: dict[str, Any] = {
        "period": {"from": _iso(scope.start), "to": _iso(scope.end), "applies_to": "created_at"},
        "process": scope.process,
        "processes": [p.id for p in scope.processes],
        "team": scope.team,
        "org": scope.org,
        "generated_at": _iso(now),
    }
    rules = fact_rules(pack, now)
    open_clocks = None
    if answers_from_sums(session, scope, rules):
        if scope.group_by == "org":  # one read of the open clocks for the counts by priority and by organization
            open_clocks = stored.open_clocks_by_org(session, tickets, now)
        report.update(_figures_from_sums(session, scope, tickets, rules, now, open_clocks))
        fact_rows = kpi_facts.org_facts_of(session, _fact_scope(scope, tickets)) if scope.group_by == "org" else []
        facts = kpi_facts.timings_of(fact_rows)
    else:
        fact_rows = None
        facts = _ticket_facts(session, scope, tickets)
        report.update(_figures_from_events(session, pack, scope, tickets, facts, now))
    if scope.group_by == "org":
        report["group_by"] = "org"
        report["by_org"] = org_rows(session, pack, scope, tickets, facts, now, fact_rows, open_clocks)
    return report


def _figures_from_events(session: Session, pack: m.PackSpec, scope: KpiScope, tickets: TicketScope,
                         facts: list[TicketTiming], now: datetime) -> dict[str, Any]:
    """The figures read from every ticket of the scope, its events and its clocks."""
    created, still_open, backlog = _tickets_and_backlog(session, tickets, now)
    resolved = [(seconds, reopened, moved) for _, seconds, reopened, moved, _ in facts if seconds is not None]
    reopened = sum(1 for _, again, _ in resolved if again)
    first_contact = sum(1 for _, again, moved in resolved if not again and not moved)
    offset = desk_offset(pack, now)
    return {
        "tickets": {"created": created, "open": still_open, "resolved": len(resolved)},
        "time_to_acknowledge": durations(ack for ack, _, _, _, _ in facts if ack is not None),
        "time_to_resolve": durations(seconds for seconds, _, _ in resolved),
        "sla": _sla(stored.clock_counts(session, tickets, now, skip_phases=UNCOUNTED_CLOCKS)),
        "backlog": backlog,
        **_rates(len(resolved), reopened, first_contact),
        "satisfaction": _satisfaction(_ratings(session, pack, scope, tickets)),
        "channels": _channels(session, tickets),
        "by_week": [{"week": week, "created": count}
                    for week, count in stored.weekly_counts(session, tickets, offset)],
    }


def _figures_from_sums(session: Session, scope: KpiScope, tickets: TicketScope, rules: kpi_facts.Rules,
                       now: datetime, open_clocks: list[stored.ClockCount] | None = None) -> dict[str, Any]:
    """The figures from the per-day sums and per-ticket facts (`itsm.store.kpi_facts`), with what depends
    on the instant of the report (open tickets by age, running clocks past their deadline) read live (the
    open clocks given as `stored.open_clocks_by_org` counted them, if given)."""
    found = kpi_facts.period_sums(session, _fact_scope(scope, tickets), rules)
    sums = found.sums
    _, still_open, backlog = _tickets_and_backlog(session, replace(tickets, open_only=True), now)
    stopped: dict[tuple[str, str], dict[str, int]] = {}
    for outcome in ("met", "breached"):
        for (figure, key), count in sums.items():
            if figure == f"sla_{outcome}":
                clock, priority = kpi_facts.split_clock_key(key)
                stopped.setdefault((clock, priority or NONE), {"met": 0, "breached": 0, "running": 0})[outcome] += count
    weeks: dict[str, int] = {}
    for day, count in sorted(found.created_per_day.items()):
        if count:
            monday = (day - timedelta(days=day.weekday())).isoformat()
            weeks[monday] = weeks.get(monday, 0) + count
    resolved = sums[("resolved", "")]
    return {
        "tickets": {"created": sums[("created", "")], "open": still_open, "resolved": resolved},
        "time_to_acknowledge": durations_of(sums[("acknowledged", "")], sums[("ack_ms", "")], found.ack_middle_ms),
        "time_to_resolve": durations_of(resolved, sums[("resolve_ms", "")], found.resolve_middle_ms),
        "sla": _sla(stored.clock_counts(session, tickets, now, only_open=True) if open_clocks is None
                    else stored.regroup(open_clocks), stopped),
        "backlog": backlog,
        **_rates(resolved, sums[("reopened", "")], sums[("first_contact", "")]),
        "satisfaction": _satisfaction({key: count for (figure, key), count in sums.items() if figure == "rating"}),
        "channels": dict(sorted((key, count) for (figure, key), count in sums.items() if figure == "channel")),
        "by_week": [{"week": week, "created": count} for week, count in weeks.items()],
    }


def _fact_scope(scope: KpiScope, tickets: TicketScope) -> kpi_facts.FactScope:
    return kpi_facts.FactScope(tickets.processes, scope.start, scope.end, scope.team)


def _rates(resolved: int, reopened: int, first_contact: int) -> dict[str, Any]:
    return {"reopen": {"resolved": resolved, "reopened": reopened, "rate_percent": percent(reopened, resolved)},
            "first_contact_resolution": {"resolved": resolved, "first_contact": first_contact,
                                         "rate_percent": percent(first_contact, resolved)}}


# -- the per-day sums (issue 18) ----------------------------------------------------------------------------------

def fact_rules(pack: m.PackSpec, now: datetime) -> kpi_facts.Rules:
    """What a ticket's KPI facts are under the pack: the same decisions `_ticket_facts` hands the store."""
    processes = list(pack.processes.values())
    return kpi_facts.Rules(AGENT_EVENTS, SYSTEM, {p.id: resolution_states(p) for p in processes},
                           {p.id: (resolution_states(p), work_states(p)) for p in processes},
                           {p.id: rating_field(pack.forms[p.form]) for p in processes}, desk_offset(pack, now))


def desk_offset(pack: m.PackSpec, now: datetime) -> int:
    """The desk's standard offset from UTC in seconds (its days and weeks; summer time left out, so that a
    ticket's day never changes with the season of the report)."""
    local = now.astimezone(ZoneInfo(pack.timezone))
    offset, summer = local.utcoffset(), local.dst()
    return int(((offset or timedelta()) - (summer or timedelta())).total_seconds())


def answers_from_sums(session: Session, scope: KpiScope, rules: kpi_facts.Rules) -> bool:
    """Whether the sums can answer for the scope: they are kept per process, team and day, so not per
    organization (`org`, a reader who sees only some organizations' tickets), and they must
    be complete under today's rules (not being rebuilt after a new pack version). With `group_by=org`
    the rows by organization read each ticket's facts instead of its events."""
    if scope.org is not None:
        return False
    if scope.viewer is not None and not {p.id for p in scope.processes} <= set(scope.viewer.processes):
        return False
    return (kpi_facts.stored_fingerprint(session) == rules.fingerprint()
            and kpi_facts.pending(session, up_to=FOLD_WHEN_READ) <= FOLD_WHEN_READ)


def bring_up_to_date(engine: Engine, pack: m.PackSpec, now: datetime, *, batches: int | None = None,
                     seconds: float | None = None, rebuild_when_read: bool = False) -> int:
    """Fold pending tickets into the sums, each batch its own transaction: all of them, or `batches`
    batches, or for about `seconds`. Under new rules the sums are rebuilt first, and only by the worker on a
    large desk (`rebuild_when_read`: a report may rebuild the sums of up to FOLD_WHEN_READ tickets; beyond
    that it reads the events, and leaves the sums alone if too many tickets wait). A rebuild folds in
    batches ten times larger. Returns the tickets folded. A batch or less is folded in the transaction that
    counted it (the worker's round after a sweep: one transaction, not two)."""
    rules = fact_rules(pack, now)
    with engine.db.write() as session:
        kpi_facts.lock(session)
        if kpi_facts.stored_fingerprint(session) != rules.fingerprint():
            if rebuild_when_read and stored.ticket_count(session) > FOLD_WHEN_READ:
                return 0
            kpi_facts.rebuild(session, rules)
        waiting = kpi_facts.pending(session, up_to=max(FOLD_WHEN_READ, 10 * FOLD_BATCH))  # enough to decide
        if rebuild_when_read and waiting > FOLD_WHEN_READ:
            return 0
        if waiting <= FOLD_BATCH and batches != 0:
            return kpi_facts.fold(session, rules, FOLD_BATCH) if waiting else 0
    size = FOLD_BATCH if waiting <= 10 * FOLD_BATCH else 10 * FOLD_BATCH
    until = time.monotonic() + seconds if seconds is not None else None
    folded, done = 0, 0
    while (batches is None or done < batches) and (until is None or time.monotonic() < until):
        with engine.db.write() as session:
            kpi_facts.lock(session)
            count = kpi_facts.fold(session, rules, size)
        folded, done = folded + count, done + 1
        if count < size:
            break
    return folded


def _ticket_facts(session: Session, scope: KpiScope, tickets: TicketScope) -> list[TicketTiming]:
    """(seconds to acknowledge, seconds to resolve, reopened, moved) per ticket: acknowledged by an agent's
    event (not the requester's nor the system's), resolved by a transition into a resolution state, reopened
    from one into a work state, moved to another team."""
    return stored.ticket_timings(
        session, tickets, acting_kinds=AGENT_EVENTS, ignored_actor=SYSTEM,
        resolving={p.id: resolution_states(p) for p in scope.processes},
        reopening={p.id: (resolution_states(p), work_states(p)) for p in scope.processes})


def _sla(lines: Iterable[ClockCount],
         stopped: Mapping[tuple[str, str], dict[str, int]] | None = None) -> list[dict[str, Any]]:
    """Met / breached / running clocks per clock and priority: the counted clock rows, and the stopped clocks
    already counted (`stopped`, from the sums)."""
    table = {key: dict(counts) for key, counts in (stopped or {}).items()}
    for line in lines:
        counts = table.setdefault((line.clock, line.priority or NONE), {"met": 0, "breached": 0, "running": 0})
        for outcome, clocks in clock_outcomes(line).items():
            counts[outcome] += clocks
    return [{"clock": clock, "priority": priority, **counts, "total": sum(counts.values()),
             "compliance_percent": percent(counts["met"], counts["met"] + counts["breached"])}
            for (clock, priority), counts in sorted(table.items(), key=lambda item: (item[0][0], _last(item[0][1])))]


def _tickets_and_backlog(session: Session, tickets: TicketScope,
                         now: datetime) -> tuple[int, int, dict[str, Any]]:
    """Tickets created and open, and the open ones by team, priority and age (since creation, now)."""
    bounds = [(name, now - timedelta(days=days)) for name, days in AGE_BUCKETS if days is not None]
    by_age = {name: 0 for name, _ in AGE_BUCKETS}
    by_team: dict[str, int] = {}
    by_priority: dict[str, int] = {}
    created = 0
    for is_open, team, priority, bucket, count in stored.backlog_counts(session, tickets, bounds,
                                                                        AGE_BUCKETS[-1][0]):
        created += count
        if is_open:
            by_age[bucket] += count
            by_team[team or NONE] = by_team.get(team or NONE, 0) + count
            by_priority[priority or NONE] = by_priority.get(priority or NONE, 0) + count
    still_open = sum(by_age.values())
    return created, still_open, {"open": still_open, "by_team": _sorted(by_team),
                                 "by_priority": _sorted(by_priority), "by_age": by_age}


def _ratings(session: Session, pack: m.PackSpec, scope: KpiScope, tickets: TicketScope) -> dict[str, int]:
    """How many tickets hold each rating, over the processes whose form has a rating field."""
    out: dict[str, int] = {}
    for process in scope.processes:
        name = rating_field(pack.forms[process.form])
        if name is None:
            continue
        for rating, count in stored.rating_counts(session, tickets, process.id, name):
            out[str(rating)] = out.get(str(rating), 0) + count
    return out


def _satisfaction(ratings: Mapping[str, int]) -> dict[str, Any]:
    distribution = {str(r): 0 for r in RATINGS}
    for rating, count in ratings.items():
        distribution[rating] = distribution.get(rating, 0) + count
    count = sum(distribution.values())
    total = sum(int(r) * n for r, n in distribution.items())
    return {"count": count, "average": round(total / count, 3) if count else None, "distribution": distribution}


def _channels(session: Session, tickets: TicketScope) -> dict[str, int]:
    """The ticket's `channel` field when its form has one, else the channel recorded on its create event."""
    out: dict[str, int] = {}
    for field_value, recorded, count in stored.channel_counts(session, tickets):
        key = kpi_facts.channel_of(field_value, recorded)
        out[key] = out.get(key, 0) + count
    return dict(sorted(out.items()))


def _sorted(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: _last(item[0])))


def _last(key: str) -> tuple[bool, str]:
    return key == NONE, key


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


