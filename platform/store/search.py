"""Full-text search over ticket text: one `ticket_search` row per ticket, indexed by the database itself.

A row holds four texts, each cut for the index by `search_text` (Han runs as bigrams; issue 15): `title`,
`body` (the other text fields), `comments` (public comments) and `notes` (internal work notes). SQLite: an
FTS5 table (`ticket_search_fts`, external content = `ticket_search`, Porter stemming, diacritics folded) that
triggers keep in step; ranked with bm25. PostgreSQL: a GIN index on the weighted `english` tsvector of the
public text (title weight A, body B, comments C) and another on the notes'; ranked with ts_rank. Notes never
rank a ticket and match it only where the caller's `notes` condition holds (the engine's: who may read them),
so a requester's search cannot find, nor be ordered by, text of a work note.

The engine decides what text goes in and which tickets qualify; this module stores, matches and ranks. User
text reaches the database only as bound values: each word quoted inside an FTS5 string, or read by
`plainto_tsquery` / `phraseto_tsquery`; the only query syntax is this module's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Table,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from .models import SearchDocument, Ticket
from .queries import APPEND_SEARCH_COMMENTS, REPLACE_SEARCH_DOCUMENT, WRITE_SEARCH_DOCUMENT
from .search_text import Part, index_text, query_units

TICKETS = cast(Table, Ticket.__table__)
FTS_TABLE = "ticket_search_fts"  # SQLite: the FTS5 table (and its shadow tables ticket_search_fts_*)
FTS = table(FTS_TABLE, column("rowid"))
GIN_INDEX = "ix_ticket_search_document"  # PostgreSQL: the expression index of the public text
NOTES_INDEX = "ix_ticket_search_notes"  # PostgreSQL: the expression index of the work notes
TS_CONFIG = "english"
FTS_WEIGHTS = (2.0, 1.0, 0.5, 0.0)  # bm25 weights of title, body, comments, notes (notes never rank)
PUBLIC_COLUMNS = "{title body comments}"  # an FTS5 column filter
PG_DOCUMENT = ("setweight(to_tsvector('english'::regconfig, coalesce(ticket_search.title, '')), 'A') || "
               "setweight(to_tsvector('english'::regconfig, coalesce(ticket_search.body, '')), 'B') || "
               "setweight(to_tsvector('english'::regconfig, coalesce(ticket_search.comments, '')), 'C')")
PG_NOTES = "to_tsvector('english'::regconfig, coalesce(ticket_search.notes, ''))"


def is_search_index(name: str | None, type_: str) -> bool:
    """True for the database-specific index objects that the models cannot declare (FTS5's virtual and
    shadow tables, the GIN expression indexes): schema comparisons skip exactly these."""
    if name is None:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    return type_ == "index" and name in (GIN_INDEX, NOTES_INDEX)


def include_in_comparison(name: str | None, type_: str, _parent_names: Any) -> bool:
    """Alembic `include_name` hook: compare everything but the search index objects."""
    return not is_search_index(name, type_)


@dataclass(frozen=True)
class Match:
    ticket: Ticket
    score: float  # higher is better, on either database (not comparable between them)


# -- writing -------------------------------------------------------------------------------------------

def write_document(session: Session, ticket_id: int, title: str, body: str) -> None:
    """Insert or replace the text of a ticket's fields (its comments stay; on SQLite the triggers update
    the FTS5 table)."""
    write_documents(session, [(ticket_id, title, body)])


def write_documents(session: Session, documents: Sequence[tuple[int, str, str]]) -> None:
    """Insert or replace several tickets' field text, one executemany."""
    if documents:
        statement = WRITE_SEARCH_DOCUMENT[session.get_bind().dialect.name]
        session.execute(statement, [{"ticket_id": i, "title": index_text(t), "body": index_text(b)}
                                    for i, t, b in documents])


def add_comments(session: Session, comments: Sequence[tuple[int, str, bool]]) -> None:
    """Add comments `(ticket_id, text, internal)` to the end of their tickets' documents: public ones to
    `comments`, internal ones to `notes`. One statement per ticket and kind."""
    statements = APPEND_SEARCH_COMMENTS[session.get_bind().dialect.name]
    for internal, column_name in ((False, "comments"), (True, "notes")):
        rows = sorted((ticket_id, text) for ticket_id, text, kind in comments if kind is internal and text.strip())
        merged = [{"ticket_id": ticket_id, "text": index_text("\n".join(text for _, text in group))}
                  for ticket_id, group in groupby(rows, key=lambda row: row[0])]
        if merged:
            session.execute(statements[column_name], merged)


def replace_documents(session: Session, documents: Sequence[tuple[int, str, str, str, str]]) -> None:
    """Insert or replace whole documents `(ticket_id, title, body, comments, notes)` (rebuilding the index),
    one executemany."""
    if documents:
        statement = REPLACE_SEARCH_DOCUMENT[session.get_bind().dialect.name]
        session.execute(statement, [{"ticket_id": i, "title": index_text(t), "body": index_text(b),
                                     "comments": index_text(c), "notes": index_text(n)}
                                    for i, t, b, c, n in documents])


def has_documents(session: Session) -> bool:
    return session.scalar(select(SearchDocument.ticket_id).limit(1)) is not None


def unindexed_tickets(session: Session) -> bool:
    """Whether tickets exist but the index holds no document (a database from before migration 0004)."""
    return session.scalar(select(Ticket.id).limit(1)) is not None and not has_documents(session)


# -- matching ------------------------------------------------------------------------------------------

def match(session: Session, terms: Sequence[str], where: Sequence[ColumnElement[bool]], limit: int, *,
          every: bool = False, notes: ColumnElement[bool] | None = None, number: str | None = None,
          offset: int = 0) -> list[Match]:
    """Tickets whose document contains any of `terms` (every one, if `every`), best first.

    `terms` are query words (`search_text.query_words`); a word requires all of its parts
    (`search_text.word_parts`). The title, body fields and public comments match for every caller; work
    notes only for the tickets `notes` selects (None: for none), and they do not rank. `number`: tickets
    whose number contains it (case-insensitive) match too, first. Then by relevance, newest first among
    equals; `offset` rows skipped (pages of a search)."""
    query = _ranked(session, select(Ticket), terms, where, limit, every, notes, number, offset)
    return [] if query is None else [Match(row[0], float(row[1])) for row in session.execute(query)]


def match_rows(session: Session, terms: Sequence[str], where: Sequence[ColumnElement[bool]], limit: int, *,
               every: bool = False, notes: ColumnElement[bool] | None = None, number: str | None = None,
               offset: int = 0) -> list[Any]:
    """`match`, as the tickets' rows (their columns in table order, as `tickets.page` gives them)."""
    query = _ranked(session, select(*TICKETS.c), terms, where, limit, every, notes, number, offset, scored=False)
    return [] if query is None else list(session.connection().execute(query))


def count_matches(session: Session, terms: Sequence[str], where: Sequence[ColumnElement[bool]], *,
                  notes: ColumnElement[bool] | None = None, number: str | None = None) -> int:
    """How many tickets `match_rows` would find with every word required and no limit (`count=true`)."""
    query = _ranked(session, select(TICKETS.c.id), terms, where, 2**31 - 1, True, notes, number, 0, scored=False)
    if query is None:
        return 0
    return int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)


def _ranked(session: Session, what: Select[Any], terms: Sequence[str], where: Sequence[ColumnElement[bool]],
            limit: int, every: bool, notes: ColumnElement[bool] | None, number: str | None,
            offset: int, scored: bool = True) -> Select[Any] | None:
    if (not terms and not number) or limit < 1:
        return None
    postgres = session.get_bind().dialect.name == "postgresql"
    with_notes = notes is not None
    hits = []
    if terms:
        hits += _hits_postgres(terms, every, with_notes) if postgres else _hits_sqlite(terms, every, with_notes)
    if number:
        escaped = number.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        hits.append(select(*_hits(Ticket.id, literal(0.0, Float), 1, numbered=1))
                    .where(func.lower(Ticket.number).like(f"%{escaped}%", escape="\\")))
    found: Any = union_all(*hits)
    # SQLite would fold the hits into the grouping below, where bm25() cannot run: compute them first
    found = found.subquery("hits") if postgres else found.cte("hits").prefix_with("MATERIALIZED")
    best = (select(found.c.id, func.max(found.c.score).label("score"), func.max(found.c.public).label("public"),
                   func.max(found.c.numbered).label("numbered")).group_by(found.c.id).subquery("best"))
    seen = best.c.public == 1
    if notes is not None:
        seen = seen | notes
    return ((what.add_columns(best.c.score) if scored else what).join(best, best.c.id == Ticket.id).where(seen, *where)
            .order_by(best.c.numbered.desc(), best.c.score.desc(), Ticket.id.desc()).offset(offset).limit(limit))


def _hits(ids: Any, score: Any, public: int, numbered: int = 0) -> list[Any]:
    """The columns of one source of hits: ticket id, score, whether public text matched, whether the number."""
    return [ids.label("id"), score.label("score"), literal(public).label("public"),
            literal(numbered).label("numbered")]


def _hits_sqlite(terms: Sequence[str], every: bool, with_notes: bool) -> list[Select[Any]]:
    rank = literal_column(f"bm25({FTS_TABLE}, {', '.join(str(w) for w in FTS_WEIGHTS)})", Float)
    expression = fts5_query(terms, every)
    public = (select(*_hits(FTS.c.rowid, -rank, 1)).select_from(FTS)
              .where(text(f"{FTS_TABLE} MATCH :public_query").bindparams(
                  public_query=f"{PUBLIC_COLUMNS} : ({expression})")))
    if not with_notes:
        return [public]
    in_notes = (select(*_hits(FTS.c.rowid, literal(0.0, Float), 0)).select_from(FTS)
                .where(text(f"{FTS_TABLE} MATCH :notes_query").bindparams(notes_query=f"notes : ({expression})")))
    return [public, in_notes]


def fts5_query(terms: Sequence[str], every: bool = False) -> str:
    """The FTS5 expression for query words: `(w1) OR (w2)` (AND if `every`; `search_text.query_units`), a
    word the AND of its parts (in the queue, where `every` word is required, a Latin word also as a prefix),
    each part a quoted string (`"erp"`, the phrase `"打印 印机"`, the prefix `"网" *`), so NEAR, AND, *, -,
    ^ and column filters in user text mean nothing."""
    def part(p: Part) -> str:
        if p.kind == "phrase":
            return '"' + " ".join(p.tokens) + '"'
        quoted = '"' + p.text.replace('"', '""') + '"'
        if p.kind == "word" and every:  # the queue: a word or its start (`print` finds `printer`)
            return f"({quoted} OR {quoted} *)"
        return quoted + " *" if p.kind == "prefix" else quoted

    units = ["(" + " AND ".join(part(p) for p in unit) + ")" for unit in query_units(terms, every)]
    return (" AND " if every else " OR ").join(units)


def _hits_postgres(terms: Sequence[str], every: bool, with_notes: bool) -> list[Select[Any]]:
    query = tsquery(terms, every)
    document: ColumnElement[Any] = literal_column(f"({PG_DOCUMENT})")  # verbatim, so the GIN index serves it
    rank = func.ts_rank(document, query, 1)  # 1: divided by 1 + log(length)
    public = select(*_hits(SearchDocument.ticket_id, rank, 1)).where(document.op("@@")(query))
    if not with_notes:
        return [public]
    notes_document: ColumnElement[Any] = literal_column(f"({PG_NOTES})")
    in_notes = select(*_hits(SearchDocument.ticket_id, literal(0.0, Float), 0)).where(
        notes_document.op("@@")(query))
    return [public, in_notes]


def tsquery(terms: Sequence[str], every: bool = False) -> Any:
    """The tsquery for query words (as `fts5_query` reads them), each part a bound parameter read as plain
    text (`plainto_tsquery`, `phraseto_tsquery`); only a prefix part, one Han character checked by
    `search_text.word_parts`, is written in tsquery syntax (`'网':*`)."""
    config: ColumnElement[Any] = literal_column(f"'{TS_CONFIG}'::regconfig")
    result: Any = None
    count = 0
    for unit in query_units(terms, every):
        word: Any = None
        for p in unit:
            count += 1
            piece: Any
            name = f"term_{count}"
            if p.kind == "phrase":
                piece = func.phraseto_tsquery(config, bindparam(name, " ".join(p.tokens)))
            elif p.kind == "prefix":
                piece = func.to_tsquery(config, bindparam(name, f"'{p.text}':*"))
            else:
                piece = func.plainto_tsquery(config, bindparam(name, p.text))
                if every:  # the queue: a word or its start (`print` finds `printer`); letters and digits only
                    piece = piece.op("||")(func.to_tsquery(config, bindparam(f"{name}_start", f"'{p.text}':*")))
            word = piece if word is None else word.op("&&")(piece)
        if word is not None:
            result = word if result is None else result.op("&&" if every else "||")(word)
    return result if result is not None else func.plainto_tsquery(config, "")


def newest_matches(session: Session, terms: Sequence[str], where: Sequence[ColumnElement[bool]], limit: int, *,
                   every: bool = True) -> list[Ticket]:
    """The newest tickets (by id) whose public text (title, body, public comments: never work notes) matches
    `terms` (every one, if `every`) and `where`, unranked: for callers that score the candidates themselves
    (similar tickets), so that the cost is that of reading the newest matches, not of ranking them all."""
    if not terms or limit < 1:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # The matches first, through the GIN index, as a materialized set: left to itself the planner may walk
        # the tickets newest first and compute every one's tsvector until ten match (seconds for rare words).
        document: ColumnElement[Any] = literal_column(f"({PG_DOCUMENT})")
        hits = (select(SearchDocument.ticket_id).where(document.op("@@")(tsquery(terms, every)))
                .cte("similar_hits").prefix_with("MATERIALIZED"))
        query = select(Ticket).join(hits, hits.c.ticket_id == Ticket.id)
    else:
        expression = fts5_query(terms, every)
        query = (select(Ticket).join(FTS, FTS.c.rowid == Ticket.id)
                 .where(text(f"{FTS_TABLE} MATCH :public_query").bindparams(
                     public_query=f"{PUBLIC_COLUMNS} : ({expression})")))
    return list(session.scalars(query.where(*where).order_by(Ticket.id.desc()).limit(limit)))


def sharing_words(session: Session, terms: Sequence[str], ids: Sequence[int]) -> set[int]:
    """Which of the tickets `ids` have public text (title, body, public comments: never work notes) holding
    any of `terms`, as `match` reads them: the same match asked of a few known tickets (the outages offered
    at intake), through the tickets' own rows, so that it costs what they cost, not what the whole index holds
    of a common word."""
    if not terms or not ids:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        document: ColumnElement[Any] = literal_column(f"({PG_DOCUMENT})")
        query = select(SearchDocument.ticket_id).where(SearchDocument.ticket_id.in_(ids),
                                                       document.op("@@")(tsquery(terms)))
    else:  # a rowid constraint with MATCH: FTS5 looks the words up for those rows only
        query = (select(FTS.c.rowid).select_from(FTS).where(FTS.c.rowid.in_(ids), text(
            f"{FTS_TABLE} MATCH :public_query").bindparams(public_query=f"{PUBLIC_COLUMNS} : ({fts5_query(terms)})")))
    return {int(ticket_id) for ticket_id in session.scalars(query)}


# -- known errors --------------------------------------------------------------------------------------

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
                    visible: ColumnElement[bool] | None = None, notes: ColumnElement[bool] | None = None
                    ) -> list[Match]:
    """`match` (any of `terms`) over the tickets `knowledge` selects, and only those `visible` selects (if
    given); work notes count where `notes` holds."""
    where = knowledge.conditions()
    if visible is not None:
        where.append(visible)
    return match(session, terms, where, limit, notes=notes)


def notes_for_all() -> ColumnElement[bool]:
    """A `notes` condition for callers who may read every work note (admins, the system)."""
    return true()
