"""kpi_pending.since: the first event of a pending ticket that its KPI facts have not counted (issue 18)

A fold recomputed a ticket's facts from its whole event log, although what they take from events (the
first acknowledging and resolving instants, whether it was ever reopened or moved, its create event's
channel) only grows with new events: a swept breach made the fold read some 25 old events per ticket to
count the one or two it added. The events trigger now notes the lowest new event id of the ticket
(`since`; NULL: no new event, the ticket's row or clocks changed), and the fold reads only the events
from there (`kpi_facts.fold`). It takes the pending row's lock (ON CONFLICT DO UPDATE) where the trigger
took none (DO NOTHING): a fold deleting the row while the writer's transaction was open would never see
that event again (the row was the only note of it); now the fold skips the row (SKIP LOCKED) and the next
one counts the event. Rows pending before this revision may have events the facts have not counted:
from 0. `since` 0 means "count every event again", which a new requester needs too (whose events
acknowledge a ticket depends on it): a trigger on tickets sets it when the requester changes.

Revision ID: 0020_kpi_pending_since
Revises: 0019_outbox_claims
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_kpi_pending_since"
down_revision = "0019_outbox_claims"
branch_labels = None
depends_on = None

TRIGGER, FUNCTION = "kpi_pend_event", "itsm_kpi_pend_event"  # 0016 ran itsm_kpi_pend_child for it
REQUESTER_TRIGGER, REQUESTER_FUNCTION = "kpi_pend_requester", "itsm_kpi_pend_requester"


def upgrade() -> None:
    op.add_column("kpi_pending", sa.Column("since", sa.BigInteger(), nullable=True))
    op.execute("UPDATE kpi_pending SET since = 0")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kpi_pending (ticket_id, since) VALUES (NEW.ticket_id, NEW.id)
    ON CONFLICT (ticket_id) DO UPDATE SET since = EXCLUDED.since
    WHERE kpi_pending.since IS NULL OR kpi_pending.since > EXCLUDED.since;
    RETURN NULL;
END $$""")
        op.execute(f"DROP TRIGGER {TRIGGER} ON events")
        op.execute(f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()")
        # whose events acknowledge a ticket depends on its requester: a new one counts every event again (SQLite
        # recounts every event anyway). Named to fire before kpi_pend_ticket_update, which would keep `since`.
        op.execute(f"""CREATE FUNCTION {REQUESTER_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kpi_pending (ticket_id, since) VALUES (NEW.id, 0)
    ON CONFLICT (ticket_id) DO UPDATE SET since = 0;
    RETURN NULL;
END $$""")
        op.execute(f"CREATE TRIGGER {REQUESTER_TRIGGER} AFTER UPDATE OF requester ON tickets FOR EACH ROW "
                   f"WHEN (OLD.requester IS DISTINCT FROM NEW.requester) EXECUTE FUNCTION {REQUESTER_FUNCTION}()")
    else:
        op.execute(f"DROP TRIGGER {TRIGGER}")
        op.execute(f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON events FOR EACH ROW BEGIN "
                   "INSERT INTO kpi_pending (ticket_id, since) VALUES (NEW.ticket_id, NEW.id) "
                   "ON CONFLICT (ticket_id) DO UPDATE SET since = excluded.since "
                   "WHERE kpi_pending.since IS NULL OR kpi_pending.since > excluded.since; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {REQUESTER_TRIGGER} ON tickets")
        op.execute(f"DROP FUNCTION {REQUESTER_FUNCTION}()")
        op.execute(f"DROP TRIGGER {TRIGGER} ON events")
        op.execute(f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON events FOR EACH ROW "
                   "EXECUTE FUNCTION itsm_kpi_pend_child()")
        op.execute(f"DROP FUNCTION {FUNCTION}()")
    else:
        op.execute(f"DROP TRIGGER {TRIGGER}")
        op.execute(f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON events FOR EACH ROW BEGIN "
                   "INSERT OR IGNORE INTO kpi_pending (ticket_id) VALUES (NEW.ticket_id); END")
    op.drop_column("kpi_pending", "since")
