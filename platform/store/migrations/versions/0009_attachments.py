"""attachments: files of tickets (issue 17, SPEC 10), their bytes outside the database

One row per file added to a ticket: its name, size, content type (from the allow-list) and sha256, which
names the file in the content-addressed attachments folder (`itsm.store.files`); whether it is internal
(agents only), who added it and when, and who removed it and when (a removed file keeps its row for the
audit, its bytes are no longer served).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import itsm.store.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", itsm.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", itsm.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attachments_ticket", "attachments", ["ticket_id", "id"])
    op.create_index("ix_attachments_sha256", "attachments", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_attachments_sha256", table_name="attachments")
    op.drop_index("ix_attachments_ticket", table_name="attachments")
    op.drop_table("attachments")
