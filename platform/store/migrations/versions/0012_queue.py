"""queue: the urgency order of the agents' queue as ticket columns, and the indexes of its sorts

`tickets.sla_rank` (0 breached, 1 a running deadline ahead, 2 neither), `tickets.sla_due_at` (the nearest
running deadline) and `tickets.priority_rank` (the priority's place in its matrix's levels) are written by
every change from the ticket's clocks (`itsm.engine.runtime.urgency`); existing tickets get them here from
their clock rows, and `priority_rank` from the priorities' text order (P1 < P2 ...) until the next `itsm
publish` ranks the open tickets by their matrices' levels. Indexes: the urgency order, priority, created (by id)
and updated, each behind `is_open` (the agents' queue hides closed tickets).

Revision ID: 0012_queue
Revises: 0011_triage_models
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import itsm.store.models

revision = "0012_queue"
down_revision = "0011_triage_models"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_tickets_urgency": ["is_open", "sla_rank", "sla_due_at", "priority_rank", "id"],
    "ix_tickets_open_rank": ["is_open", "priority_rank", "id"],
    "ix_tickets_open_created": ["is_open", "id"],
    "ix_tickets_open_updated": ["is_open", "updated_at", "id"],
}


def upgrade() -> None:
    # plain ADD COLUMN (a constant default): SQLite keeps the table, no copy of every ticket
    op.add_column("tickets", sa.Column("sla_rank", sa.SmallInteger(), server_default="2", nullable=False))
    op.add_column("tickets", sa.Column("sla_due_at", itsm.store.models.UTCDateTime(timezone=True), nullable=True))
    op.add_column("tickets", sa.Column("priority_rank", sa.SmallInteger(), server_default="999", nullable=False))
    tickets = sa.table("tickets", sa.column("id"), sa.column("is_open"), sa.column("priority"),
                       sa.column("sla_rank"), sa.column("sla_due_at"), sa.column("priority_rank"))
    clocks = sa.table("sla_clocks", sa.column("ticket_id"), sa.column("phase"), sa.column("deadline"),
                      sa.column("breached"), sa.column("started_at"))
    mine = clocks.c.ticket_id == tickets.c.id
    running_due = (sa.select(sa.func.min(clocks.c.deadline))
                   .where(mine, clocks.c.phase == "running", clocks.c.deadline.is_not(None)).scalar_subquery())
    breached = sa.exists().where(mine, clocks.c.phase.in_(("running", "paused")), clocks.c.breached.is_(True))
    breach_start = (sa.select(sa.func.min(clocks.c.started_at))
                    .where(mine, clocks.c.phase.in_(("running", "paused")), clocks.c.breached.is_(True))
                    .scalar_subquery())
    op.execute(tickets.update().where(tickets.c.is_open.is_(True)).values(
        sla_due_at=sa.case((breached, sa.func.coalesce(running_due, breach_start)), else_=running_due)))
    op.execute(tickets.update().where(tickets.c.is_open.is_(True)).values(
        sla_rank=sa.case((breached, 0), (tickets.c.sla_due_at.is_not(None), 1), else_=2)))
    levels = sorted(p for p in op.get_bind().execute(sa.select(tickets.c.priority).distinct()).scalars() if p)
    for rank, level in enumerate(levels[:998]):
        op.execute(tickets.update().where(tickets.c.priority == level).values(priority_rank=rank))
    for name, columns in INDEXES.items():
        op.create_index(name, "tickets", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="tickets")
    for column in ("priority_rank", "sla_due_at", "sla_rank"):  # ALTER TABLE DROP COLUMN (SQLite 3.35+)
        op.drop_column("tickets", column)
