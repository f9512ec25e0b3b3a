"""sign_in: the OpenID Connect identity a user signed in with (SPEC 14)

`users.oidc_subject` is the `sub` claim of the user's ID tokens at the configured provider: the one claim
OpenID Connect promises never to reassign, so a renamed account at the provider still signs in as the same
user here, and nobody else can claim that user by taking its name there. Unique where set (a unique index).

A plain ALTER TABLE on both databases, never SQLite's copy-and-rename of a batch operation: dropping the old
`users` table with foreign keys on would cascade to `api_tokens` and delete every token.

Revision ID: 0011_sign_in
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_sign_in"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("oidc_subject", sa.String(length=255), nullable=True))
    op.create_index("uq_users_oidc_subject", "users", ["oidc_subject"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_oidc_subject", table_name="users")
    op.drop_column("users", "oidc_subject")  # SQLite 3.35+ drops a column in place
