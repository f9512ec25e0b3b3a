"""scale: indexes for the requests that read history at seed scale (issue 18)

`ix_tickets_created_at`: the KPIs' period (tickets created in [from, to)) read through an index instead of
every ticket. `ix_sla_clocks_open`: the running and paused clocks (a few per open ticket), partial on both
databases, holding every column the queue's `sla=` filters test, so that `sla=breached` and `sla=at_risk`
read the open clocks alone instead of every clock ever.

Revision ID: 0015_scale
Revises: 0013_watchers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_scale"
down_revision = "0013_watchers"
branch_labels = None
depends_on = None

OPEN_CLOCKS = "phase IN ('running', 'paused')"


def upgrade() -> None:
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.create_index("ix_sla_clocks_open", "sla_clocks", ["phase", "deadline", "breached", "warnings_fired", "ticket_id"],
                    postgresql_where=sa.text(OPEN_CLOCKS), sqlite_where=sa.text(OPEN_CLOCKS))


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_open", table_name="sla_clocks")
    op.drop_index("ix_tickets_created_at", table_name="tickets")
