"""organizations: client units in a hierarchy, users' full names, contacts and disabling (SPEC 14)

`organizations` holds each unit (and `organization_domains` its mail domains) with its materialized path of ids from the root (`/zhejiang/hangzhou/`),
so that a subtree is a prefix match on an index. Every organization a user already named in the free-text
`users.org` becomes a root organization of that id and name, so nothing a pack's rules read changes. Users
gain `full_name`, `org_contact` and `active`; tickets gain `org`, the requester's organization when the
ticket was reported, filled in here from each requester's current organization.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=100), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent", sa.String(length=100), nullable=True),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("vip", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_organizations_parent", "organizations", ["parent"])
    op.create_index("ix_organizations_path", "organizations", ["path"],
                    postgresql_ops={"path": "text_pattern_ops"})
    op.create_table(
        "organization_domains",
        sa.Column("domain", sa.String(length=253), primary_key=True),
        sa.Column("org", sa.String(length=100), sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                  nullable=False),
    )
    op.create_index("ix_organization_domains_org", "organization_domains", ["org"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("full_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("org_contact", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("org", sa.String(length=100), nullable=True))
    op.create_index("ix_tickets_org", "tickets", ["org", "id"])
    op.execute("INSERT INTO organizations (id, name, parent, path, vip, active, created_at, updated_at) "
               "SELECT DISTINCT org, org, NULL, '/' || org || '/', false, true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
               "FROM users WHERE org IS NOT NULL")
    op.execute("UPDATE tickets SET org = (SELECT users.org FROM users WHERE users.name = tickets.requester) "
               "WHERE EXISTS (SELECT 1 FROM users WHERE users.name = tickets.requester AND users.org IS NOT NULL)")


def downgrade() -> None:
    # Columns dropped in place (SQLite 3.35+ and PostgreSQL): rebuilding `users` or `tickets` the batch way
    # would cascade to API tokens, and SQLite refuses to drop a table other tables' rows refer to.
    op.drop_index("ix_tickets_org", table_name="tickets")
    op.execute("ALTER TABLE tickets DROP COLUMN org")
    for column in ("active", "org_contact", "full_name"):
        op.execute(f"ALTER TABLE users DROP COLUMN {column}")
    op.drop_index("ix_organization_domains_org", table_name="organization_domains")
    op.drop_table("organization_domains")
    op.drop_index("ix_organizations_path", table_name="organizations")
    op.drop_index("ix_organizations_parent", table_name="organizations")
    op.drop_table("organizations")
