"""search vectors: PostgreSQL stores each search document's tsvectors (issue 18)

`ticket_search` gains two generated columns, `public_vector` (the weighted tsvector of the title, body
fields and public comments) and `notes_vector` (the work notes'), computed by PostgreSQL when a row is
written, and the GIN indexes move from the expressions to these columns. Matching a candidate and ranking
a match then read a stored vector instead of parsing the document again, which is what lets a search of a
common word cost its page and not its matches (`itsm.store.search`). Existing rows get their vectors when
the column is added (the table is rewritten once: about a minute per million tickets). SQLite is
untouched: its FTS5 table already stores its index.

Revision ID: 0017_search_vectors
Revises: 0016_kpi_facts
"""

from __future__ import annotations

from alembic import op

revision = "0017_search_vectors"
down_revision = "0016_kpi_facts"
branch_labels = None
depends_on = None

PUBLIC = ("setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
          "setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'B') || "
          "setweight(to_tsvector('english'::regconfig, coalesce(comments, '')), 'C')")
NOTES = "to_tsvector('english'::regconfig, coalesce(notes, ''))"
INDEXES = (("ix_ticket_search_document", "public_vector", PUBLIC), ("ix_ticket_search_notes", "notes_vector", NOTES))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE ticket_search " + ", ".join(
        f"ADD COLUMN {column} tsvector GENERATED ALWAYS AS ({expression}) STORED" for _, column, expression in INDEXES))
    for name, column, _ in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"CREATE INDEX {name} ON ticket_search USING gin ({column})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, column, expression in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"ALTER TABLE ticket_search DROP COLUMN {column}")
        qualified = expression.replace("coalesce(", "coalesce(ticket_search.")
        op.execute(f"CREATE INDEX {name} ON ticket_search USING gin (({qualified}))")
