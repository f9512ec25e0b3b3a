"""triage_models: the triage models of SPEC 16, one row per training, stored with the definitions version

Each row holds a model as `itsm.triage.TriageModel.to_bytes()` writes it (an `.npz` file of plain arrays and
JSON, read with `allow_pickle=False`), the process, the definitions version it was trained under, how many
solved tickets it learned from and how many there were, the targets it suggests and its held-out accuracy.
Every host serves the newest row of a process.

Revision ID: 0011_triage_models
Revises: 0011_sign_in
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import itsm.store.models

revision = "0011_triage_models"
down_revision = "0011_sign_in"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "triage_models",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("process", sa.String(length=64), nullable=False),
        sa.Column("definitions_version", sa.String(length=64), nullable=False),
        sa.Column("trained_at", itsm.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("trained_by", sa.String(length=100), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("targets", json_type, nullable=False),
        sa.Column("metrics", json_type, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_triage_models_process", "triage_models", ["process", "id"])


def downgrade() -> None:
    op.drop_index("ix_triage_models_process", table_name="triage_models")
    op.drop_table("triage_models")
