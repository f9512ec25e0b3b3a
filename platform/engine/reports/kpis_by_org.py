"""KPIs by organization (SPEC 10 `group_by=org`, SPEC 14): the figures of each organization under the one
asked for, over its whole subtree, from the tickets and their clocks or from the tickets' KPI facts."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from itsm.interpreter import model as m
from itsm.store import kpi_facts
from itsm.store import orgs as stored_orgs
from itsm.store import reports as stored
from itsm.store.reports import ClockCount, TicketScope, TicketTiming

from .kpi_terms import UNCOUNTED_CLOCKS, KpiScope, clock_outcomes, durations, percent, rating_field

if TYPE_CHECKING:
    from itsm.store.database import Session


@dataclass
class _OrgFigures:
    """What one organization's row adds up while the scope's counts are read."""

    created: int = 0
    open: int = 0
    acknowledged: list[float] = field(default_factory=list)
    resolved: list[tuple[float, bool, bool]] = field(default_factory=list)
    clocks: dict[str, dict[str, int]] = field(default_factory=dict)
    ratings: dict[int, int] = field(default_factory=dict)


def org_rows(session: Session, pack: m.PackSpec, scope: KpiScope, tickets: TicketScope,
             facts: list[TicketTiming], now: datetime, fact_rows: list[kpi_facts.OrgFact] | None = None,
             open_clocks: list[ClockCount] | None = None) -> list[dict[str, Any]]:
    """The figures of each organization directly under `scope.org` (each over its whole subtree), or of each
    root without `org`: one row each, by name, even without tickets. Tickets reported from `org` itself come
    first in a row marked `own`; tickets of no organization last, in a row whose `org` is null (only when
    there are such tickets). The rows add up to the report's totals. Counted from the tickets and their
    clocks, or, given the tickets' KPI facts (`fact_rows`), from those and the open tickets' clocks
    (`open_clocks`, as `stored.open_clocks_by_org` counts them)."""
    parent_path = stored_orgs.paths_of(session, [scope.org]).get(scope.org) if scope.org else None
    children = stored_orgs.children(session, scope.org)
    below = stored_orgs.child_counts(session, [child.id for child in children])
    groups: dict[str | None, _OrgFigures] = {}
    paths = stored_orgs.paths_under(session, parent_path)  # the per-ticket facts name organizations

    def figures(key: str | None) -> _OrgFigures:
        """The row of a child key: a child's id, "" for `org` itself, None for no organization."""
        return groups.setdefault(scope.org if key == "" else key or None, _OrgFigures())

    @functools.cache
    def child_of(org: str | None) -> str | None:
        return stored_orgs.child_on_path(paths[org], parent_path) if org in paths else None

    if fact_rows is None:
        counts = _org_counts(session, pack, scope, tickets, parent_path, now)
    else:
        assert open_clocks is not None, "the rows from the facts count the open clocks read with them"
        counts = _org_counts_of_facts(session, tickets, parent_path, fact_rows, child_of, open_clocks)
    for key, is_open, count in counts.tickets:
        figures(key).created += count
        figures(key).open += count if is_open else 0
    for ack, seconds, reopened, moved, org in facts:
        found = figures(child_of(org))
        if ack is not None:
            found.acknowledged.append(ack)
        if seconds is not None:
            found.resolved.append((seconds, reopened, moved))
    clock_ids = sorted({line.clock for line in counts.clocks})
    for line in counts.clocks:
        tally = figures(line.org).clocks.setdefault(line.clock, {"met": 0, "breached": 0, "running": 0})
        for outcome, clocks in clock_outcomes(line).items():
            tally[outcome] += clocks
    for key, rating, count in counts.ratings:
        ratings = figures(key).ratings
        ratings[int(rating)] = ratings.get(int(rating), 0) + count

    def row(org: str | None, name: str | None, units: int, own: bool) -> dict[str, Any]:
        return {"org": org, "name": name, "own": own, "children": units,
                **_org_figures(groups.get(org if not own else scope.org) or _OrgFigures(), clock_ids)}

    rows = []
    if scope.org is not None and scope.org in groups:
        rows.append(row(scope.org, stored_orgs.names_of(session, [scope.org]).get(scope.org), 0, True))
    rows += [row(child.id, child.name, below.get(child.id, 0), False) for child in children]
    if None in groups:
        rows.append(row(None, None, 0, False))
    return rows


class _OrgCounts(NamedTuple):
    """What the rows by organization add up, each by child key: (key, is_open, tickets), the clock counts
    (`ClockCount.org` the key), (key, rating, tickets)."""

    tickets: list[tuple[str | None, bool, int]]
    clocks: list[ClockCount]
    ratings: list[tuple[str | None, Any, int]]


def _org_counts(session: Session, pack: m.PackSpec, scope: KpiScope, tickets: TicketScope,
                parent_path: str | None, now: datetime) -> _OrgCounts:
    """The counts from the scope's tickets and every clock of theirs."""
    ratings = []
    for process in scope.processes:
        name = rating_field(pack.forms[process.form])
        if name is not None:
            ratings += stored.org_rating_counts(session, tickets, parent_path, process.id, name)
    return _OrgCounts(stored.org_ticket_counts(session, tickets, parent_path),
                      stored.org_clock_counts(session, tickets, parent_path, now, skip_phases=UNCOUNTED_CLOCKS),
                      ratings)


def _org_counts_of_facts(session: Session, tickets: TicketScope, parent_path: str | None,
                         fact_rows: list[kpi_facts.OrgFact], child_of: Callable[[str | None], str | None],
                         open_clocks: list[ClockCount]) -> _OrgCounts:
    """The counts from the tickets' KPI facts (created, ratings, stopped clocks) and from the open tickets
    and open clocks (what depends on now)."""
    created: Counter[str | None] = Counter()
    rated: Counter[tuple[str | None, int]] = Counter()
    stopped: Counter[tuple[str | None, str, bool]] = Counter()
    for fact in fact_rows:
        key = child_of(fact.org)
        created[key] += 1
        if fact.rating is not None:
            rated[(key, fact.rating)] += 1
        for clocks, breached in ((fact.met, False), (fact.breached, True)):
            for clock in clocks.split(",") if clocks else ():
                stopped[(key, clock, breached)] += 1
    still_open = replace(tickets, open_only=True)
    opened: Counter[str | None] = Counter()
    for key, _, count in stored.org_ticket_counts(session, still_open, parent_path):
        opened[key or None] += count
    ticket_counts = [(key, True, opened[key]) for key in opened]
    ticket_counts += [(key, False, count - opened[key]) for key, count in created.items()]
    clocks = [ClockCount(clock, None, "stopped", "breached" if breached else "met", breached, count, 0, key)
              for (key, clock, breached), count in stopped.items()]
    clocks += stored.regroup(open_clocks, child_of, by_priority=False)
    return _OrgCounts(ticket_counts, clocks, [(key, rating, count) for (key, rating), count in rated.items()])


def _org_figures(found: _OrgFigures, clock_ids: list[str]) -> dict[str, Any]:
    """One organization's figures, each computed as the report computes it for the whole scope."""
    reopened = sum(1 for _, again, _ in found.resolved if again)
    first_contact = sum(1 for _, again, moved in found.resolved if not again and not moved)
    resolved = len(found.resolved)
    rated = sum(found.ratings.values())
    sla = {}
    for clock in clock_ids:
        counts = found.clocks.get(clock, {"met": 0, "breached": 0, "running": 0})
        sla[clock] = {**counts, "total": sum(counts.values()),
                      "compliance_percent": percent(counts["met"], counts["met"] + counts["breached"])}
    return {
        "tickets": {"created": found.created, "open": found.open, "resolved": resolved},
        "time_to_acknowledge": durations(found.acknowledged),
        "time_to_resolve": durations(seconds for seconds, _, _ in found.resolved),
        "sla": sla,
        "reopen": {"resolved": resolved, "reopened": reopened, "rate_percent": percent(reopened, resolved)},
        "first_contact_resolution": {"resolved": resolved, "first_contact": first_contact,
                                     "rate_percent": percent(first_contact, resolved)},
        "satisfaction": {"count": rated, "average": round(sum(r * n for r, n in found.ratings.items()) / rated, 3)
                         if rated else None},
    }


def org_csv_rows(rows: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """`group_by=org` rows as CSV rows: `org_tickets_created,org=hangzhou,12` (`org=zhejiang;own` for tickets of
    `org` itself, `org=` for tickets of no organization; `org=ID;clock=response` for SLA figures)."""
    out: list[tuple[str, str, Any]] = []
    for row in rows:
        dimension = f"org={row['org'] or ''}" + (";own" if row["own"] else "")
        for figure in ("tickets", "time_to_acknowledge", "time_to_resolve", "reopen", "first_contact_resolution",
                       "satisfaction"):
            out.extend((f"org_{figure}_{name}", dimension, value) for name, value in row[figure].items())
        for clock, counts in row["sla"].items():
            out.extend((f"org_sla_{name}", f"{dimension};clock={clock}", value) for name, value in counts.items())
    return out
