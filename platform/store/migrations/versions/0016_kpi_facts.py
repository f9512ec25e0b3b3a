"""kpi_facts: per-ticket KPI facts, their sums per day, and the tickets whose facts are out of date (issue 18)

Triggers on `tickets`, `events` and `sla_clocks` put every changed ticket in `kpi_pending`, in the same
transaction as the change: `itsm.store.kpi_facts.fold` brings its facts up to date. The tables start empty;
the first KPI report (or the worker, on a large desk) fills them from the tickets.

Revision ID: 0016_kpi_facts
Revises: 0015_scale
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import itsm.store.models

revision = "0016_kpi_facts"
down_revision = "0015_scale"
branch_labels = None
depends_on = None

# (trigger, table, events, the changed ticket's id)
TRIGGERS = (
    ("kpi_pend_ticket_insert", "tickets", "INSERT", "id"),
    ("kpi_pend_ticket_update", "tickets", "UPDATE", "id"),
    ("kpi_pend_event", "events", "INSERT", "ticket_id"),
    ("kpi_pend_clock_insert", "sla_clocks", "INSERT", "ticket_id"),
    ("kpi_pend_clock_update", "sla_clocks", "UPDATE", "ticket_id"),
)
FUNCTIONS = {"id": "itsm_kpi_pend_ticket", "ticket_id": "itsm_kpi_pend_child"}


def upgrade() -> None:
    when = itsm.store.models.UTCDateTime(timezone=True)
    op.create_table(
        "kpi_facts",
        sa.Column("ticket_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("process", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=32), nullable=True),
        sa.Column("org", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ack_ms", sa.BigInteger(), nullable=True),
        sa.Column("resolve_ms", sa.BigInteger(), nullable=True),
        sa.Column("reopened", sa.Boolean(), nullable=False),
        sa.Column("moved", sa.Boolean(), nullable=False),
        sa.Column("met", sa.Text(), nullable=False),
        sa.Column("breached", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_index("ix_kpi_facts_created_at", "kpi_facts", ["created_at"])
    for name, column in (("ix_kpi_facts_ack", "ack_ms"), ("ix_kpi_facts_resolve", "resolve_ms")):
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "kpi_facts", [column, "created_at", "process", "team"],
                        postgresql_where=where, sqlite_where=where)
    op.create_table(
        "kpi_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("process", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("figure", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "process", "team", "figure", "key"),
    )
    op.create_table("kpi_pending", sa.Column("ticket_id", sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.PrimaryKeyConstraint("ticket_id"))
    if op.get_bind().dialect.name == "postgresql":
        for column, function in FUNCTIONS.items():
            op.execute(f"""CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kpi_pending (ticket_id) VALUES (NEW.{column}) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$""")
        for name, table, event, column in TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW "
                       f"EXECUTE FUNCTION {FUNCTIONS[column]}()")
    else:
        for name, table, event, column in TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN "
                       f"INSERT OR IGNORE INTO kpi_pending (ticket_id) VALUES (NEW.{column}); END")


def downgrade() -> None:
    for name, table, _, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if op.get_bind().dialect.name == "postgresql"
                                                        else ""))
    if op.get_bind().dialect.name == "postgresql":
        for function in FUNCTIONS.values():
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table("kpi_pending")
    op.drop_table("kpi_days")
    op.drop_table("kpi_facts")
