"""ticket search: a text document per ticket and a full-text index over it (known errors, issue 7)

SQLite: an FTS5 table with external content, kept in step by triggers; PostgreSQL: a GIN index on the
weighted tsvector. Existing tickets are indexed by `itsm db upgrade` afterwards (the text fields come from
the form definitions, which a migration does not compile).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DOCUMENT = ("setweight(to_tsvector('english'::regconfig, coalesce(ticket_search.title, '')), 'A') || "
            "setweight(to_tsvector('english'::regconfig, coalesce(ticket_search.body, '')), 'B')")
FTS = "ticket_search_fts"


def upgrade() -> None:
    op.create_table(
        "ticket_search",
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False,
                  nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_ticket_search_document ON ticket_search USING gin (({DOCUMENT}))")
        return
    op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, body, content='ticket_search', "
               "content_rowid='ticket_id', tokenize='porter unicode61 remove_diacritics 2')")
    op.execute(f"CREATE TRIGGER ticket_search_ai AFTER INSERT ON ticket_search BEGIN "
               f"INSERT INTO {FTS}(rowid, title, body) VALUES (new.ticket_id, new.title, new.body); END")
    op.execute(f"CREATE TRIGGER ticket_search_ad AFTER DELETE ON ticket_search BEGIN "
               f"INSERT INTO {FTS}({FTS}, rowid, title, body) VALUES ('delete', old.ticket_id, old.title, old.body); "
               "END")
    op.execute(f"CREATE TRIGGER ticket_search_au AFTER UPDATE ON ticket_search BEGIN "
               f"INSERT INTO {FTS}({FTS}, rowid, title, body) VALUES ('delete', old.ticket_id, old.title, old.body); "
               f"INSERT INTO {FTS}(rowid, title, body) VALUES (new.ticket_id, new.title, new.body); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_ticket_search_document")
    else:
        for trigger in ("ticket_search_au", "ticket_search_ad", "ticket_search_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    op.drop_table("ticket_search")
