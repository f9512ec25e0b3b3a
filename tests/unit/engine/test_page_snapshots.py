"""A page's snapshots (`store_lookups.snapshots`: each requester's facts once) are those of `snapshot`, ticket
by ticket: rows as the store reads them, with and without clocks, pauses and a requester."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from itsm.engine.runtime.snapshot import CLOCK_COLUMNS, TICKET_COLUMNS
from itsm.engine.runtime.store_lookups import snapshot, snapshots

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def ticket_row(ticket_id: int, requester: str) -> tuple[object, ...]:
    values = {"id": ticket_id, "number": f"INC{ticket_id:07d}", "process": "incident", "state": "new",
              "is_open": True, "priority": "P3", "team": "desk", "assignee": None, "requester": requester,
              "fields": {"summary": f"Ticket {ticket_id}"}, "version": 1, "definitions_version": "v1",
              "created_at": AT, "updated_at": AT + timedelta(minutes=ticket_id), "state_entered_at": AT,
              "closed_at": None, "org": "nb-finance", "sla_rank": 1, "sla_due_at": AT, "priority_rank": 3}
    assert tuple(values) == TICKET_COLUMNS
    return tuple(values.values())


def clock_row(clock_id: int, ticket_id: int, clock: str, pauses: list[list[str | None]] | None) -> tuple[object, ...]:
    values = dict.fromkeys(CLOCK_COLUMNS)
    values.update(id=clock_id, clock=clock, status="running", phase="running", target_seconds=3600.0,
                  elapsed_seconds=12.5, started_at=AT, deadline=AT + timedelta(hours=1), pauses=pauses)
    as_stored = list(values.values())
    return (as_stored[0], ticket_id, *as_stored[1:])  # the table has the ticket id second


def test_a_page_of_snapshots_is_the_snapshots_of_its_tickets() -> None:
    people = {"rita": SimpleNamespace(name="rita", vip=True, org="nb-finance", email="rita@example.com",
                                      org_path="/zhejiang/ningbo/nb-finance/", org_name="Ningbo Finance Bureau"),
              "una": SimpleNamespace(name="una", vip=False, org=None, email=None)}
    rows = [ticket_row(1, "rita"), ticket_row(2, "una"), ticket_row(3, "rita"), ticket_row(4, "system"),
            ticket_row(5, "gone")]
    clocks = {1: [clock_row(10, 1, "response", None), clock_row(11, 1, "resolution", [])],
              3: [clock_row(12, 3, "resolution", [["2026-03-02T09:00:00+00:00", None],
                                                  ["2026-03-02T08:10:00+00:00", "2026-03-02T08:20:00+00:00"]])]}
    page = snapshots(rows, clocks, people)
    one_by_one = [snapshot(None, row, clocks.get(row[0], []), people.get(row[8]), requester_known=True)  # type: ignore[arg-type]
                  for row in rows]
    assert page == one_by_one
    assert page[2].clocks["resolution"].pauses == (("2026-03-02T09:00:00+00:00", None),
                                                   ("2026-03-02T08:10:00+00:00", "2026-03-02T08:20:00+00:00"))
    assert page[0].requester is not None and page[0].requester.orgs == ("nb-finance", "ningbo", "zhejiang")
    assert page[3].requester is None and page[4].requester is None and page[1].clocks == {}
