"""The queue's urgency order (SPEC 10 `sort=urgency`) as three ticket columns the store can index.

Every change writes them from the ticket's clocks as the change leaves them, so the queue reads the most
urgent tickets in one index walk instead of looking at every clock (docs/decisions.md, "The queue's urgency
order"): `sla_rank` 0 for a breached ticket (a running or paused clock marked breached: the worker marks it at
the deadline), 1 for one with a
running deadline ahead, 2 for the rest; `sla_due_at` the nearest running deadline (for a breached ticket
whose clocks are all paused, when its breached clock started; None for rank 2); and
`priority_rank`, the priority's place in its matrix's levels (most urgent first).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from itsm.interpreter import model as m

from .snapshot import ClockRow

BREACHED, DUE, CALM = 0, 1, 2
NO_PRIORITY_RANK = 999  # as `itsm.store.models.NO_PRIORITY_RANK`: no priority, or one no matrix lists
OPEN_PHASES = ("running", "paused")


def priority_rank(pack: m.PackSpec, process: m.ProcessSpec, priority: str | None) -> int:
    """The priority's place in the process's matrix levels (else in the first matrix that lists it)."""
    if priority is None:
        return NO_PRIORITY_RANK
    matrices = [pack.matrices[process.priority_matrix]] if process.priority_matrix in pack.matrices else []
    for matrix in [*matrices, *pack.matrices.values()]:
        if priority in matrix.level_ids:
            return matrix.level_ids.index(priority)
    return NO_PRIORITY_RANK


def priority_ranks(pack: m.PackSpec, process: m.ProcessSpec) -> dict[str, int]:
    """Every level the process's tickets may hold, with its rank (for re-ranking stored tickets)."""
    levels = {level for matrix in pack.matrices.values() for level in matrix.level_ids}
    return {level: priority_rank(pack, process, level) for level in sorted(levels)}


def urgency_columns(pack: m.PackSpec, process: m.ProcessSpec, priority: str | None, clocks: Iterable[ClockRow],
                    now: datetime) -> dict[str, Any]:
    """`sla_rank`, `sla_due_at` and `priority_rank` of a ticket with these clocks, at `now`."""
    clocks = list(clocks)
    running = [c.deadline for c in clocks if c.phase == "running" and c.deadline is not None]
    breached = [c for c in clocks if c.phase in OPEN_PHASES and c.breached]
    due = min(running) if running else None
    if breached:
        rank = BREACHED
        if due is None:  # paused: a stable instant, so that a change that moves no clock writes nothing
            due = min((c.started_at for c in breached if c.started_at is not None), default=now)
    else:
        rank = DUE if due is not None else CALM
    return {"sla_rank": rank, "sla_due_at": due, "priority_rank": priority_rank(pack, process, priority)}
