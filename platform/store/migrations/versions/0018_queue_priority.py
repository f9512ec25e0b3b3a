"""queue priority: the open tickets by priority, in the urgency order and in PostgreSQL's estimates (issue 18)

`ix_tickets_open_priority_urgency` (priority, sla_rank, sla_due_at, priority_rank, id), partial on the open
tickets on both databases: an agent's queue filtered by priority (`priority=P2`) reads its page in the
default order from it and stops, instead of reading every open ticket of that priority and sorting them.
It holds the open tickets only, so its size follows them and not the history.

PostgreSQL chose that read and sort at a million tickets because it estimated the open tickets of a
priority from every ticket ever, as if being open and the priority were unrelated: 519 open P2 tickets
instead of 10,001 (closed tickets are mostly P3 and P4). `st_tickets_open_priority` gives it the
frequencies of the pairs (is_open, priority), so that the other orders (`sort=priority`, `-updated`) walk
their indexes too; `ANALYZE tickets` fills it now (a sample of the table: about a second at a million
tickets) rather than when autovacuum next analyzes the table, which at that size may be months away.

Revision ID: 0018_queue_priority
Revises: 0017_search_vectors
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_queue_priority"
down_revision = "0017_search_vectors"
branch_labels = None
depends_on = None

OPEN_TICKETS = {"postgresql": "is_open", "sqlite": "is_open = 1"}


def upgrade() -> None:
    op.create_index("ix_tickets_open_priority_urgency", "tickets",
                    ["priority", "sla_rank", "sla_due_at", "priority_rank", "id"],
                    postgresql_where=sa.text(OPEN_TICKETS["postgresql"]), sqlite_where=sa.text(OPEN_TICKETS["sqlite"]))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE STATISTICS st_tickets_open_priority (mcv) ON is_open, priority FROM tickets")
        op.execute("ANALYZE tickets")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_tickets_open_priority")
    op.drop_index("ix_tickets_open_priority_urgency", table_name="tickets")
