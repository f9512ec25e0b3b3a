"""The queue's urgency columns (`runtime/urgency.py`): written by the core with every plan, from the clocks
as the change leaves them; no database."""

from __future__ import annotations

from datetime import timedelta

from core_support import MONDAY_9, created, person

from itsm.engine.runtime.compiled import CompiledVersion
from itsm.engine.runtime.rules import Context, Request, plan
from itsm.engine.runtime.snapshot import ClockRow
from itsm.engine.runtime.urgency import BREACHED, CALM, DUE, NO_PRIORITY_RANK, priority_rank, urgency_columns

HOUR = timedelta(hours=1)


def test_a_new_ticket_carries_its_nearest_deadline_and_priority_rank(context: Context) -> None:
    urgent = created(context, {"summary": "Server down", "impact": "high"}).ticket
    assert (urgent.priority, urgent.sla_rank, urgent.sla_due_at, urgent.priority_rank) == (
        "P1", DUE, MONDAY_9 + HOUR, 0)
    calm = created(context).ticket
    assert (calm.priority, calm.sla_due_at, calm.priority_rank) == ("P2", MONDAY_9 + 4 * HOUR, 1)


def test_a_change_that_moves_no_clock_writes_no_urgency(context: Context) -> None:
    ticket = created(context)
    later = Request("comment", person(context.compiled, "rita"), MONDAY_9 + 5 * HOUR, comment="Any news?")
    made = plan(context, ticket, later)  # past the deadline, but the worker has not marked the breach yet
    assert made is not None and not {"sla_rank", "sla_due_at", "priority_rank"} & set(made.changed)


def test_breached_first_then_due_then_calm(compiled: CompiledVersion) -> None:
    pack = compiled.pack
    process = pack.processes["ticket"]
    running = ClockRow(1, "response", phase="running", status="running", deadline=MONDAY_9 + HOUR,
                       started_at=MONDAY_9)
    late = running._replace(id=2, clock="resolution", breached=True, status="breached", deadline=MONDAY_9)
    paused_late = late._replace(phase="paused", deadline=None)
    stopped_late = late._replace(phase="stopped")
    assert urgency_columns(pack, process, "P2", [running], MONDAY_9) == {
        "sla_rank": DUE, "sla_due_at": MONDAY_9 + HOUR, "priority_rank": 1}
    assert urgency_columns(pack, process, "P2", [running, late], MONDAY_9)["sla_rank"] == BREACHED
    assert urgency_columns(pack, process, "P2", [running, late], MONDAY_9)["sla_due_at"] == MONDAY_9
    # breached and paused: a stable instant (when the clock started), not the change's
    assert urgency_columns(pack, process, "P2", [paused_late], MONDAY_9 + 9 * HOUR) == {
        "sla_rank": BREACHED, "sla_due_at": MONDAY_9, "priority_rank": 1}
    # a breach that stopped (resolved late) no longer puts the ticket first
    assert urgency_columns(pack, process, None, [stopped_late], MONDAY_9) == {
        "sla_rank": CALM, "sla_due_at": None, "priority_rank": NO_PRIORITY_RANK}


def test_priority_ranks_follow_the_matrix_levels(compiled: CompiledVersion) -> None:
    pack = compiled.pack
    process = pack.processes["ticket"]
    assert [priority_rank(pack, process, level) for level in ("P1", "P2", "P9", None)] == [0, 1, NO_PRIORITY_RANK,
                                                                                           NO_PRIORITY_RANK]
