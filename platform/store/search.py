"""Full-text search over ticket text: one `ticket_search` row per ticket, indexed by the database itself.

SQLite: an FTS5 table (`ticket_search_fts`, external content = `ticket_search`, Porter stemming, diacritics
folded) that triggers keep in step with `ticket_search`; ranked with bm25. PostgreSQL: a GIN index on the
weighted `english` tsvector of `ticket_search` (title weight A, body B); ranked with ts_rank. The engine
decides what text goes in and which tickets qualify; this module only stores, matches and ranks. Terms
reach the database as bound values, each quoted (FTS5) or read as plain text (`plainto_tsquery`), so user
text never becomes query syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, bindparam, column, func, literal_column, select, table, text
from sqlalchemy.orm import Session

from .models import SearchDocument, Ticket
from .queries import WRITE_SEARCH_DOCUMENT

FTS_TABLE = "ticket_search_fts"  # SQLite: the FTS5 table (and its shadow tables ticket_search_fts_*)
FTS = table(FTS_TABLE, column("rowid"))
GIN_INDEX = "ix_ticket_search_document"  # PostgreSQL: the expression index
TS_CONFIG = "english"
TITLE_WEIGHT, BODY_WEIGHT = 2.0, 1.0  # bm25 column weights; ts_rank weighs A (title) over B (body)
PG_DOCUMENT = ("setweight(to_tsvector('english'::regconfig, coalesce(ticket_search.title, '')), 'A') || "
               "setweight(to_tsvector('english'::regconfig, coalesce(ticket_search.body, '')), 'B')")

def is_search_index(name: str | None, type_: str) -> bool:
    """True for the database-specific index objects that the models cannot declare (FTS5's virtual and
    shadow tables, the GIN expression index): schema comparisons skip exactly these."""
    if name is None:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    return type_ == "index" and name == GIN_INDEX


def include_in_comparison(name: str | None, type_: str, _parent_names: Any) -> bool:
    """Alembic `include_name` hook: compare everything but the search index objects."""
    return not is_search_index(name, type_)


@dataclass(frozen=True)
class Match:
    ticket: Ticket
    score: float  # higher is better, on either database (not comparable between them)
    excerpt: str


def write_document(session: Session, ticket_id: int, title: str, body: str) -> None:
    """Insert or replace a ticket's document (on SQLite the triggers update the FTS5 table)."""
    statement = WRITE_SEARCH_DOCUMENT[session.get_bind().dialect.name]
    session.execute(statement, {"ticket_id": ticket_id, "title": title, "body": body})


def has_documents(session: Session) -> bool:
    return session.scalar(select(SearchDocument.ticket_id).limit(1)) is not None


def match(session: Session, terms: Sequence[str], where: Sequence[ColumnElement[bool]], limit: int) -> list[Match]:
    """Tickets whose document contains any of `terms` (already normalised words), best first."""
    if not terms or limit < 1:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _match_postgres(session, terms, where, limit)
    return _match_sqlite(session, terms, where, limit)


@dataclass(frozen=True)
class Knowledge:
    """Which tickets a known-error search returns (the engine decides the values): those in `resolved_state`,
    closed ones in a state other than `cancel_states`, and those of `record_processes` in any state but
    those; only of `process` when given, never the ticket numbered `exclude`."""

    resolved_state: str
    cancel_states: tuple[str, ...]
    record_processes: tuple[str, ...] = ()
    process: str | None = None
    exclude: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        not_cancelled = Ticket.state.not_in(self.cancel_states)
        knowledge = ((Ticket.state == self.resolved_state) | (Ticket.is_open.is_(False) & not_cancelled)
                     | (Ticket.process.in_(self.record_processes) & not_cancelled))
        out: list[ColumnElement[bool]] = [knowledge]
        if self.process is not None:
            out.append(Ticket.process == self.process)
        if self.exclude is not None:
            out.append(Ticket.number != self.exclude)
        return out


def match_knowledge(session: Session, terms: Sequence[str], knowledge: Knowledge, limit: int,
                    visible: ColumnElement[bool] | None = None) -> list[Match]:
    """`match` over the tickets `knowledge` selects, and only those `visible` selects (if given)."""
    where = knowledge.conditions()
    if visible is not None:
        where.append(visible)
    return match(session, terms, where, limit)


def fts5_query(terms: Sequence[str]) -> str:
    """`"a" OR "b"`: every term a quoted string, so NEAR, AND, *, -, ^ and column filters mean nothing."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _match_sqlite(session: Session, terms: Sequence[str], where: Sequence[ColumnElement[bool]],
                  limit: int) -> list[Match]:
    rank = literal_column(f"bm25({FTS_TABLE}, {TITLE_WEIGHT}, {BODY_WEIGHT})", Float)
    excerpt: ColumnElement[Any] = literal_column(f"snippet({FTS_TABLE}, -1, '', '', '…', 16)")
    query = (select(Ticket, rank.label("rank"), excerpt.label("excerpt"))
             .select_from(FTS).join(Ticket, Ticket.id == FTS.c.rowid)
             .where(text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=fts5_query(terms)), *where)
             .order_by(rank, Ticket.id.desc()).limit(limit))
    return [Match(row[0], -float(row[1]), row[2] or "") for row in session.execute(query)]


def _match_postgres(session: Session, terms: Sequence[str], where: Sequence[ColumnElement[bool]],
                    limit: int) -> list[Match]:
    config: ColumnElement[Any] = literal_column(f"'{TS_CONFIG}'::regconfig")
    tsquery: Any = None
    for index, term in enumerate(terms):
        part = func.plainto_tsquery(config, bindparam(f"term_{index}", term))
        tsquery = part if tsquery is None else tsquery.op("||")(part)
    # the indexed expression, verbatim, so that the GIN index serves the match
    document: ColumnElement[Any] = literal_column(f"({PG_DOCUMENT})")
    rank = func.ts_rank(document, tsquery, 1).label("rank")  # 1: divided by 1 + log(length)
    excerpt = func.ts_headline(config, SearchDocument.body, tsquery,
                               'StartSel="", StopSel="", MaxWords=24, MinWords=8, MaxFragments=1').label("excerpt")
    query = (select(Ticket, rank, excerpt)
             .select_from(SearchDocument).join(Ticket, Ticket.id == SearchDocument.ticket_id)
             .where(document.op("@@")(tsquery), *where)
             .order_by(rank.desc(), Ticket.id.desc()).limit(limit))
    return [Match(row[0], float(row[1]), row[2] or "") for row in session.execute(query)]


def unindexed_tickets(session: Session) -> bool:
    """Whether tickets exist but the index holds no document (a database from before migration 0004)."""
    return session.scalar(select(Ticket.id).limit(1)) is not None and not has_documents(session)
def write_documents(session: Session, documents: Sequence[tuple[int, str, str]]) -> None:
    """Insert or replace several tickets' documents, one executemany."""
    if documents:
        statement = WRITE_SEARCH_DOCUMENT[session.get_bind().dialect.name]
        session.execute(statement, [{"ticket_id": i, "title": t, "body": b} for i, t, b in documents])
