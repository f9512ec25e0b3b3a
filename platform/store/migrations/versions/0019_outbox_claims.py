"""outbox claims: the messages due to be sent, in the order senders claim them (issue 18)

`ix_outbox_claimable` (next_attempt_at, id), partial on the messages pending or being sent on both
databases: a delivery round claims its ten longest due messages from it and stops. Through
`ix_outbox_due` (status, next_attempt_at) PostgreSQL read every due message of both statuses and sorted
them for each claim: about 3 ms a claim with 2,000 due (after 1,000 SLA breaches), five claims a round, and
more as a backlog grows.

Revision ID: 0019_outbox_claims
Revises: 0018_queue_priority
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_outbox_claims"
down_revision = "0018_queue_priority"
branch_labels = None
depends_on = None

CLAIMABLE_MESSAGES = "status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_index("ix_outbox_claimable", "outbox", ["next_attempt_at", "id"],
                    postgresql_where=sa.text(CLAIMABLE_MESSAGES), sqlite_where=sa.text(CLAIMABLE_MESSAGES))


def downgrade() -> None:
    op.drop_index("ix_outbox_claimable", table_name="outbox")
