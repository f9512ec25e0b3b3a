"""events per ticket: PostgreSQL told how many tickets the events belong to (issue 18)

ANALYZE guesses the distinct values of `events.ticket_id` from a sample of 30,000 rows, and a ticket's
events lie together, so it guessed 83,000 tickets for the million of the benchmark's desk: 136 events a
ticket instead of 11. Reading the histories of a sweep's 400 tickets was then planned at 54,000 rows:
a parallel scan (its workers ~30 ms to start) compiled by JIT (~7 ms), 67 ms where the index alone takes
18; the KPI fold's read of new events was compiled by JIT too (36 ms instead of 13). The column now says
its tickets are a twelfth of its rows (`n_distinct = -0.08`, the seed's 12 events a ticket, as a
fraction that grows with the table), and the table is analyzed again so that the planner uses it now.
SQLite keeps no such statistics: nothing to do there.

Revision ID: 0021_events_per_ticket
Revises: 0020_kpi_pending_since
"""

from __future__ import annotations

from alembic import op

revision = "0021_events_per_ticket"
down_revision = "0020_kpi_pending_since"
branch_labels = None
depends_on = None

TICKETS_PER_EVENT = -0.08  # negative: a fraction of the rows (PostgreSQL's n_distinct)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE events ALTER COLUMN ticket_id SET (n_distinct = {TICKETS_PER_EVENT})")
        op.execute("ANALYZE events")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE events ALTER COLUMN ticket_id RESET (n_distinct)")
        op.execute("ANALYZE events")
