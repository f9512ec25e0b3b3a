"""Full-text search over ticket text: one `ticket_search` row per ticket, indexed by the database itself.

A row holds four texts, each cut for the index by `search_text` (Han runs as bigrams; issue 15): `title`,
`body` (the other text fields), `comments` (public comments) and `notes` (internal work notes). SQLite: an
FTS5 table (`ticket_search_fts`, external content = `ticket_search`, Porter stemming, diacritics folded) that
triggers keep in step; ranked with bm25. PostgreSQL: the weighted `english` tsvector of the public text
(title weight A, body B, comments C) and the notes' stored in generated columns (`public_vector`,
`notes_vector`, migration 0017), each with a GIN index; ranked with ts_rank. A search ranks only the newest
`WINDOW` matches: every match of a rare word read through the GIN index, a common word's found in ranges
of the newest tickets first, as PostgreSQL's statistics tell them apart (`_window`, `search_stats`;
docs/scale.md). Notes never
rank a ticket and match it only where the caller's `notes` condition holds (the engine's: who may read them),
so a requester's search cannot find, nor be ordered by, text of a work note.

The engine decides what text goes in and which tickets qualify; this module stores, matches and ranks. User
text reaches the database only as bound values: each word quoted inside an FTS5 string, or read by
`plainto_tsquery` / `phraseto_tsquery`; the only query syntax is this module's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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

from .dialects import any_of, serially
from .models import SearchDocument, Ticket
from .queries import APPEND_SEARCH_COMMENTS, REPLACE_SEARCH_DOCUMENT, WRITE_SEARCH_DOCUMENT
from .search_stats import COLUMNS, TS_CONFIG, expected_shares
from .search_text import Part, index_text, query_units

TICKETS = cast(Table, Ticket.__table__)
FTS_TABLE = "ticket_search_fts"  # SQLite: the FTS5 table (and its shadow tables ticket_search_fts_*)
FTS = table(FTS_TABLE, column("rowid"))
SEARCH = cast(Table, SearchDocument.__table__)
GIN_INDEX = "ix_ticket_search_document"  # PostgreSQL: the GIN index of the public text's stored vector
NOTES_INDEX = "ix_ticket_search_notes"  # PostgreSQL: the GIN index of the work notes' stored vector
VECTORS = COLUMNS  # PostgreSQL: generated tsvector columns (migration 0017), public_vector and notes_vector
PUBLIC_VECTOR: ColumnElement[Any] = literal_column("ticket_search.public_vector")
NOTES_VECTOR: ColumnElement[Any] = literal_column("ticket_search.notes_vector")
VECTOR_COLUMNS = dict(zip(VECTORS, (PUBLIC_VECTOR, NOTES_VECTOR), strict=True))
WINDOW = 500  # the newest matches a search ranks; older ones follow, newest first (docs/scale.md)
FEW = 2000  # PostgreSQL: a vector's matches of a word are read whole, by id, when fewer than this
SPAN = 8  # the newest SPAN * WINDOW tickets are searched first for the window, then SPAN times as many...
FTS_WEIGHTS = (2.0, 1.0, 0.5, 0.0)  # bm25 weights of title, body, comments, notes (notes never rank)
PUBLIC_COLUMNS = "{title body comments}"  # an FTS5 column filter


def is_search_index(name: str | None, type_: str) -> bool:
    """True for the database-specific index objects that the models cannot declare (FTS5's virtual and
    shadow tables, PostgreSQL's generated tsvector columns and their GIN indexes): schema comparisons skip
    exactly these."""
    if name is None:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    if type_ == "column":
        return name in VECTORS
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
    equals, of the newest `WINDOW` matches; then the older ones newest first. `offset` rows skipped (pages
    of a search)."""
    page = _page(session, terms, where, limit, every, notes, number, offset)
    found = _tickets(session, list(page))
    return [Match(found[i], score) for i, score in page.items() if i in found]


def _tickets(session: Session, ids: list[int]) -> dict[int, Ticket]:
    """The tickets of `ids` by id (a page or a window: the caller puts them in order)."""
    return {ticket.id: ticket for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))} if ids else {}


def match_rows(session: Session, terms: Sequence[str], where: Sequence[ColumnElement[bool]], limit: int, *,
               every: bool = False, notes: ColumnElement[bool] | None = None, number: str | None = None,
               offset: int = 0) -> list[Any]:
    """`match`, as the tickets' rows (their columns in table order, as `tickets.page` gives them)."""
    page = _page(session, terms, where, limit, every, notes, number, offset)
    if not page:
        return []
    rows = session.connection().execute(select(*TICKETS.c).where(TICKETS.c.id.in_(list(page))))
    found = {row.id: row for row in rows}
    return [found[i] for i in page if i in found]


def count_matches(session: Session, terms: Sequence[str], where: Sequence[ColumnElement[bool]], *,
                  notes: ColumnElement[bool] | None = None, number: str | None = None) -> int:
    """How many tickets `match_rows` would find with every word required and no limit (`count=true`)."""
    if not terms and not number:
        return 0
    query = tsquery(terms, True) if session.get_bind().dialect.name == "postgresql" and terms else None
    found = _newest(session, terms, query, where, True, notes, number, None).subquery()
    return int(session.scalar(select(func.count()).select_from(found)) or 0)


@contextmanager
def _serial(session: Session) -> Iterator[None]:
    """PostgreSQL plans a search's statements without parallel workers: each reads a window of matches,
    and starting workers (10-70 ms) would cost more than the reading."""
    serially(session)
    try:
        yield
    finally:
        serially(session, False)


def _page(session: Session, terms: Sequence[str], where: Sequence[ColumnElement[bool]], limit: int, every: bool,
          notes: ColumnElement[bool] | None, number: str | None, offset: int) -> dict[int, float]:
    """The ids and scores of the page `offset`..`offset + limit` of the matches, in order: the newest
    `WINDOW` best first (the number's matches first), then the older ones newest first. Ranking only the
    newest matches keeps the cost of a page that of reading `WINDOW` matches, however many the desk holds
    (a common word: one ticket in six)."""
    if (not terms and not number) or limit < 1:
        return {}
    query = tsquery(terms, every) if session.get_bind().dialect.name == "postgresql" and terms else None
    with _serial(session):
        window = _window(session, terms, query, where, every, notes, number, WINDOW)
        ranked = _best_first(window)
        end = offset + limit
        if end > WINDOW and len(window) >= WINDOW:  # past the ranked window: the older matches, newest first
            older = [*where, TICKETS.c.id < min(row.id for row in window)]
            ranked += [(row.id, 0.0) for row in session.execute(
                _newest(session, terms, query, older, every, notes, number, end - WINDOW))]
    return dict(ranked[offset:end])


def _window(session: Session, terms: Sequence[str], query: Any, where: Sequence[ColumnElement[bool]], every: bool,
            notes: ColumnElement[bool] | None, number: str | None, size: int) -> list[Any]:
    """The newest `size` matches (`_newest` rows, newest first).

    PostgreSQL: a vector (the public text's; the notes' where the caller may read them) in which the
    statistics expect fewer than `FEW` matches of the query (`search_stats`: a rare word, or one they do
    not list) is asked first, through its GIN index alone; when it does hold fewer, all its matches' ids
    are read (`_read_few`: well under a millisecond for a rare word) and its source of hits reads those
    tickets only. When every source is read so, one statement reads the window. Otherwise (a common word,
    a ticket number) the newest `SPAN` * `size` tickets are tried, then `SPAN` times as many, each try
    reading only its range (a vector's known ids, or the GIN index's matches intersected with the range, or
    the range walked newest first until the window is full): a common word fills the window in the first
    range, whatever the size of the desk. A range in which the statistics expect fewer matches than the
    window is skipped (a word in 5 % of the documents: the first one), unless they were wrong about a
    vector or a ticket number is searched too. When no range fills the window, the request's conditions
    are narrow (a requester's own tickets) or the word is common only in older tickets, and the planner
    reads the window its way. Without the ranges, PostgreSQL would read every match of a common word, or
    walk every ticket for a rare one, whichever it misjudged cheaper (it underestimates the matches of a
    Chinese phrase, whose bigrams come together, and overestimates a rare prefix's)."""
    vectors = [VECTORS[0]] if notes is None else list(VECTORS)
    known: dict[str, list[int]] = {}
    share = 1.0  # of the tickets of a range, the most that match (unknown: all)
    if query is not None:
        shares, documents = expected_shares(session, terms, every, vectors)
        few = [vector for vector in vectors if shares[vector] * documents < FEW]
        known = _read_few(session, query, few)
        if len(known) == len(few) and not number:  # the statistics were right about the rare ones
            share = sum(shares[vector] for vector in vectors if vector not in known)
    if query is None or len(known) < len(vectors) or number:
        top = session.scalar(select(func.max(TICKETS.c.id)))
        for span in (SPAN * size, SPAN * SPAN * size):
            if top is None or top - span <= 0:
                break
            if share * span < size:
                continue
            rows = session.execute(_newest(session, terms, query, where, every, notes, number, size,
                                           floor=top - span, known=known)).all()
            if len(rows) >= size:
                return list(rows)
    return list(session.execute(_newest(session, terms, query, where, every, notes, number, size, known=known)))


def _read_few(session: Session, query: Any, vectors: Sequence[str]) -> dict[str, list[int]]:
    """The ids of every match of `query` in each of `vectors` (PostgreSQL) that holds fewer than `FEW`,
    read through its GIN index alone (plain scans off: the planner, misjudging a prefix, would otherwise
    scan the table until `FEW` match). The GIN index lists every match before the first is read, so this
    costs what the word's matches cost: nothing for a rare word, 40-100 ms at a million tickets for a
    common one (`_window` asks only where the statistics expect few)."""
    if not vectors:
        return {}
    session.execute(text("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off"))
    try:
        found = {}
        for vector in vectors:
            ids = session.scalars(select(SEARCH.c.ticket_id).where(VECTOR_COLUMNS[vector].op("@@")(query))
                                  .limit(FEW)).all()
            if len(ids) < FEW:
                found[vector] = list(ids)
        return found
    finally:
        session.execute(text("SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT"))


def _best_first(window: list[Any]) -> list[tuple[int, float]]:
    """The window's (id, score), the number's matches first, then by score, newest first among equals."""
    ordered = sorted(window, key=lambda row: (-row.numbered, -row.score, -row.id))
    return [(row.id, float(row.score)) for row in ordered]


def _newest(session: Session, terms: Sequence[str], query: Any, where: Sequence[ColumnElement[bool]], every: bool,
            notes: ColumnElement[bool] | None, number: str | None, limit: int | None,
            floor: int | None = None, known: Mapping[str, Sequence[int]] | None = None) -> Select[Any]:
    """The newest `limit` matches (every one if None) meeting `where`, of ids above `floor` if given:
    (id, score, numbered).

    Each source of hits (the public text, the notes where `notes` holds, the number) is its own query with
    `where` and the limit inside, so PostgreSQL may read it either way: through the GIN index (a rare
    word) or by walking the tickets newest first until `limit` match (a common word), checking each one's
    stored vector. `known`: PostgreSQL, the ids of every match of a vector (`_read_few`), which its source
    reads by id."""
    hits: list[Select[Any]] = []
    if terms:
        hits += (_hits_postgres(query, notes, floor, limit is not None, known or {}) if query is not None
                 else _hits_sqlite(terms, every, notes, floor))
    if number:
        escaped = number.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        hits.append(select(*_hits(TICKETS.c.id, literal(0.0, Float), numbered=1))
                    .where(func.lower(TICKETS.c.number).like(f"%{escaped}%", escape="\\")))
    hits = [hit.where(*where) for hit in hits]
    if floor is not None:
        hits = [hit.where(TICKETS.c.id > floor) for hit in hits]
    if limit is not None:  # each source's newest first (SQLite wants a limited arm of a union in a subquery)
        hits = [select(hit.order_by(TICKETS.c.id.desc()).limit(limit).subquery()) for hit in hits]
    found: Any = union_all(*hits)
    # SQLite would fold the hits into the grouping below, where bm25() cannot run: compute them first
    postgres = session.get_bind().dialect.name == "postgresql"
    found = found.subquery("hits") if postgres else found.cte("hits").prefix_with("MATERIALIZED")
    best = (select(found.c.id, func.max(found.c.score).label("score"), func.max(found.c.numbered).label("numbered"))
            .group_by(found.c.id))
    return best if limit is None else best.order_by(found.c.id.desc()).limit(limit)


def _hits(ids: Any, score: Any, numbered: int = 0) -> list[Any]:
    """The columns of one source of hits: ticket id, score, whether the number matched."""
    return [ids.label("id"), score.label("score"), literal(numbered).label("numbered")]


def _hits_sqlite(terms: Sequence[str], every: bool, notes: ColumnElement[bool] | None,
                 floor: int | None) -> list[Select[Any]]:
    rank = literal_column(f"bm25({FTS_TABLE}, {', '.join(str(w) for w in FTS_WEIGHTS)})", Float)
    expression = fts5_query(terms, every)
    on = TICKETS.c.id == FTS.c.rowid
    on_tickets = FTS.join(TICKETS, on if floor is None else on & (FTS.c.rowid > floor))
    public = (select(*_hits(TICKETS.c.id, -rank)).select_from(on_tickets)
              .where(text(f"{FTS_TABLE} MATCH :public_query").bindparams(
                  public_query=f"{PUBLIC_COLUMNS} : ({expression})")))
    if notes is None:
        return [public]
    in_notes = (select(*_hits(TICKETS.c.id, literal(0.0, Float))).select_from(on_tickets)
                .where(text(f"{FTS_TABLE} MATCH :notes_query").bindparams(notes_query=f"notes : ({expression})"),
                       notes))
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


def _hits_postgres(query: Any, notes: ColumnElement[bool] | None, floor: int | None, scored: bool,
                   known: Mapping[str, Sequence[int]]) -> list[Select[Any]]:
    """The public text's and (where `notes` holds) the work notes' hits; with a `floor`, the documents'
    range too (PostgreSQL does not carry a range across a join's equality). `scored`: the public hits
    ranked (ts_rank of the stored vector, computed for the matches read, not for every match).

    `known` (a vector's few matches, read through its GIN index: `_window`): that vector's hits are
    looked up by id (`ticket_id = ANY(...)`), the ids bound as one array. Left to itself, the planner
    misjudges how many documents a prefix (`'zyxel':*`) matches and would walk the open tickets newest
    first, checking each one's vector (170 ms for 20,000 tickets at a million), or hash them all."""
    on = TICKETS.c.id == SEARCH.c.ticket_id
    rank = func.ts_rank(PUBLIC_VECTOR, query, 1) if scored else literal(0.0, Float)  # 1: / (1 + log(length))
    in_range = SEARCH.join(TICKETS, on if floor is None else on & (SEARCH.c.ticket_id > floor))

    def hits(vector: str, score: ColumnElement[Any]) -> Select[Any]:
        found = select(*_hits(TICKETS.c.id, score)).select_from(in_range).where(VECTOR_COLUMNS[vector].op("@@")(query))
        if vector in known:
            found = found.where(any_of(SEARCH.c.ticket_id, known[vector]))
        return found

    public = hits(VECTORS[0], rank)
    if notes is None:
        return [public]
    return [public, hits(VECTORS[1], literal(0.0, Float)).where(notes)]


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
    (similar tickets), so that the cost is that of reading the newest matches (`_window`), not of ranking
    them all."""
    if not terms or limit < 1:
        return []
    query = tsquery(terms, every) if session.get_bind().dialect.name == "postgresql" else None
    with _serial(session):
        window = _window(session, terms, query, where, every, None, None, limit)
    found = _tickets(session, [row.id for row in window])
    return [found[row.id] for row in window if row.id in found]


def sharing_words(session: Session, terms: Sequence[str], ids: Sequence[int]) -> set[int]:
    """Which of the tickets `ids` have public text (title, body, public comments: never work notes) holding
    any of `terms`, as `match` reads them: the same match asked of a few known tickets (the outages offered
    at intake), through the tickets' own rows, so that it costs what they cost, not what the whole index holds
    of a common word."""
    if not terms or not ids:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        query = select(SearchDocument.ticket_id).where(SearchDocument.ticket_id.in_(ids),
                                                       PUBLIC_VECTOR.op("@@")(tsquery(terms)))
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
