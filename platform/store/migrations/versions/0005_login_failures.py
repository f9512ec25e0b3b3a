"""login_failures: the sign-in throttle in a table of its own (issue 13), no longer text in `settings`

The counts kept in `settings` (keys `login_failures:...`) are dropped: they cover at most the last day and
lock a name for at most 15 minutes, so starting them afresh at an upgrade loses nothing worth a conversion.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import itsm.store.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("name_digest", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", itsm.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", itsm.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name_digest"),
    )
    op.create_index("ix_login_failures_last_failure_at", "login_failures", ["last_failure_at"])
    settings = sa.table("settings", sa.column("key", sa.String()))
    op.execute(settings.delete().where(settings.c.key.startswith("login_failures:", autoescape=True)))


def downgrade() -> None:
    op.drop_index("ix_login_failures_last_failure_at", table_name="login_failures")
    op.drop_table("login_failures")
