"""queue priority: the open tickets by priority in the urgency order (issue 18)

`ix_tickets_open_priority_urgency` (priority, sla_rank, sla_due_at, priority_rank, id), partial on the open
tickets on both databases: an agent's queue filtered by priority (`priority=P2`) reads its page in the
default order from it and stops, instead of reading every open ticket of that priority and sorting them
(PostgreSQL chose that at a million tickets: it estimates the open tickets of a priority from every ticket
ever, 519 instead of 10,001). It holds the open tickets only, so its size follows them and not the history.

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


def downgrade() -> None:
    op.drop_index("ix_tickets_open_priority_urgency", table_name="tickets")
