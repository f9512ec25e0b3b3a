"""search in Chinese: documents cut into Han bigrams, comments and work notes searched (issue 15)

Every `ticket_search` row is rewritten as `itsm.store.search_text.index_text` cuts it, and gains the
ticket's public comments (`comments`) and internal work notes (`notes`), read from `comments`. The rows
are rewritten in batches of BATCH tickets by id (never the whole table in memory) while no index is kept
in step; the index is built once afterwards: SQLite rebuilds a new FTS5 table with four columns,
PostgreSQL builds a GIN index on the public text and one on the notes. Tickets without a document (none
after `itsm db upgrade` ran migration 0004's indexing) are left to `itsm db reindex`. Time: see
docs/search-zh.md, "What was built".

Downgrade keeps the cut text in `title` and `body` (the old index still finds Latin words in it; run
`itsm db reindex` with the older release to restore the text as written) and drops the comment columns.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from itsm.store.search_text import index_text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 2000
FTS = "ticket_search_fts"
OLD_DOCUMENT = ("setweight(to_tsvector('english'::regconfig, coalesce(ticket_search.title, '')), 'A') || "
                "setweight(to_tsvector('english'::regconfig, coalesce(ticket_search.body, '')), 'B')")
DOCUMENT = (OLD_DOCUMENT + " || "
            "setweight(to_tsvector('english'::regconfig, coalesce(ticket_search.comments, '')), 'C')")
NOTES = "to_tsvector('english'::regconfig, coalesce(ticket_search.notes, ''))"
TRIGGERS = ("ticket_search_ai", "ticket_search_ad", "ticket_search_au")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _drop_index(postgres)
    op.add_column("ticket_search", sa.Column("comments", sa.Text(), nullable=False, server_default=""))
    op.add_column("ticket_search", sa.Column("notes", sa.Text(), nullable=False, server_default=""))
    _rewrite_documents()
    if postgres:
        op.execute(f"CREATE INDEX ix_ticket_search_document ON ticket_search USING gin (({DOCUMENT}))")
        op.execute(f"CREATE INDEX ix_ticket_search_notes ON ticket_search USING gin (({NOTES}))")
    else:
        _create_fts(("title", "body", "comments", "notes"))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _drop_index(postgres)
    with op.batch_alter_table("ticket_search") as batch:
        batch.drop_column("notes")
        batch.drop_column("comments")
    if postgres:
        op.execute(f"CREATE INDEX ix_ticket_search_document ON ticket_search USING gin (({OLD_DOCUMENT}))")
    else:
        _create_fts(("title", "body"))


def _drop_index(postgres: bool) -> None:
    if postgres:
        op.execute("DROP INDEX IF EXISTS ix_ticket_search_notes")
        op.execute("DROP INDEX IF EXISTS ix_ticket_search_document")
        return
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute(f"DROP TABLE IF EXISTS {FTS}")


def _rewrite_documents() -> None:
    """Each document cut for the index, with its ticket's comments, BATCH tickets at a time by id."""
    connection = op.get_bind()
    read = sa.text("SELECT ticket_id, title, body FROM ticket_search WHERE ticket_id > :last "
                   "ORDER BY ticket_id LIMIT :batch")
    comments = sa.text("SELECT ticket_id, text, internal FROM comments WHERE ticket_id >= :first "
                       "AND ticket_id <= :last ORDER BY ticket_id, id")
    write = sa.text("UPDATE ticket_search SET title = :title, body = :body, comments = :comments, notes = :notes "
                    "WHERE ticket_id = :ticket_id")
    last = 0
    while True:
        rows = connection.execute(read, {"last": last, "batch": BATCH}).all()
        if not rows:
            return
        texts: dict[tuple[int, bool], list[str]] = defaultdict(list)
        for ticket_id, text, internal in connection.execute(comments, {"first": rows[0][0], "last": rows[-1][0]}):
            texts[(ticket_id, bool(internal))].append(text)
        connection.execute(write, [{"ticket_id": ticket_id, "title": index_text(title), "body": index_text(body),
                                    "comments": index_text("\n".join(texts[(ticket_id, False)])),
                                    "notes": index_text("\n".join(texts[(ticket_id, True)]))}
                                   for ticket_id, title, body in rows])
        last = rows[-1][0]


def _create_fts(columns: tuple[str, ...]) -> None:
    """The FTS5 table over `columns` of `ticket_search`, filled once, and the triggers that keep it in step."""
    names = ", ".join(columns)
    new = ", ".join(f"new.{name}" for name in columns)
    old = ", ".join(f"old.{name}" for name in columns)
    op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5({names}, content='ticket_search', "
               "content_rowid='ticket_id', tokenize='porter unicode61 remove_diacritics 2')")
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
    op.execute(f"CREATE TRIGGER ticket_search_ai AFTER INSERT ON ticket_search BEGIN "
               f"INSERT INTO {FTS}(rowid, {names}) VALUES (new.ticket_id, {new}); END")
    op.execute(f"CREATE TRIGGER ticket_search_ad AFTER DELETE ON ticket_search BEGIN "
               f"INSERT INTO {FTS}({FTS}, rowid, {names}) VALUES ('delete', old.ticket_id, {old}); END")
    op.execute(f"CREATE TRIGGER ticket_search_au AFTER UPDATE ON ticket_search BEGIN "
               f"INSERT INTO {FTS}({FTS}, rowid, {names}) VALUES ('delete', old.ticket_id, {old}); "
               f"INSERT INTO {FTS}(rowid, {names}) VALUES (new.ticket_id, {new}); END")
