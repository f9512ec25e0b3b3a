"""sign_in: the OpenID Connect identity a user signed in with (SPEC 14)

`users.oidc_subject` is the `sub` claim of the user's ID tokens at the configured provider: the one claim
OpenID Connect promises never to reassign, so a renamed account at the provider still signs in as the same
user here, and nobody else can claim that user by taking its name there. Unique where set.

Revision ID: 0011_sign_in
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_sign_in"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("oidc_subject", sa.String(length=255), nullable=True))
        batch.create_unique_constraint("uq_users_oidc_subject", ["oidc_subject"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_oidc_subject", type_="unique")
        batch.drop_column("oidc_subject")
