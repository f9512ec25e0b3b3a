"""How many documents a search is likely to match, from PostgreSQL's statistics of the stored vectors
(issue 18): what `search._window` asks before choosing how to read a search's matches.

`ANALYZE` keeps, for each tsvector column, its most common lexemes (up to ten times the statistics target:
1,000 by default) and the share of documents holding each (`pg_stats.most_common_elems`, `_freqs`). A query
is estimated from those shares as an upper bound: every part of a unit required, so a unit matches at most
its rarest part's share, a phrase its rarest bigram's, a word at most its rarest lexeme's (or, matched as a
prefix too, the sum of the listed lexemes it begins); every unit required (the queue): the rarest unit's;
any unit (known errors): the sum. A lexeme not in the list counts as none: it is rarer than the rarest
listed one, and only reading the index tells how rare (`search._read_few` does, cheaply when it is).
PostgreSQL's planner multiplies the shares of required lexemes instead, and so takes the two common bigrams
of `打印机` for a word of 2 % of the documents (it is in 15 %).

The statistics are read once a minute per database (`FRESH`: ANALYZE changes them rarely, and a read of
`pg_stats` costs a millisecond); each search asks only for the lexemes of its words. Only the choice of a
plan rests on this estimate, never a result: stale or missing statistics (a desk never analyzed) cost
time, not correctness.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import text
from sqlalchemy.orm import Session

from .models import SearchDocument
from .search_text import query_units

TS_CONFIG = "english"
TABLE = SearchDocument.__tablename__
COLUMNS = ("public_vector", "notes_vector")  # the table's tsvector columns (`search.VECTORS`)
FRESH = 60.0  # seconds for which the statistics read are used
# Each column's most common lexemes and their shares, and the table's documents, as the last ANALYZE saw
# them. The table is the one the search path finds, looked up by value so that the view's indexes serve.
STATISTICS = text(
    "SELECT s.attname, CAST(CAST(s.most_common_elems AS text) AS text[]) AS lexemes, "
    "s.most_common_elem_freqs AS shares, (SELECT reltuples FROM pg_class WHERE oid = CAST(:table AS regclass)) "
    "AS documents FROM pg_stats s WHERE s.schemaname = (SELECT n.nspname FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = CAST(:table AS regclass)) "
    "AND s.tablename = (SELECT relname FROM pg_class WHERE oid = CAST(:table AS regclass)) "
    "AND s.attname = ANY(CAST(:columns AS text[]))")
# The lexemes of each text as the index holds them (stemmed by the configuration), in order.
LEXEMES = text(f"SELECT tsvector_to_array(to_tsvector('{TS_CONFIG}'::regconfig, p.t)) "
               "FROM unnest(CAST(:texts AS text[])) WITH ORDINALITY AS p(t, i) ORDER BY p.i")

Part = tuple[Sequence[str], bool]  # a part's lexemes (all required) and whether it matches as a prefix too
Listed = tuple[dict[str, dict[str, float]], float]  # each column's listed lexemes and shares; the documents
_read: WeakKeyDictionary[Any, tuple[float, Listed]] = WeakKeyDictionary()  # by database (engine): when, what


def expected_shares(session: Session, terms: Sequence[str], every: bool, columns: Sequence[str]
                    ) -> tuple[dict[str, float], float]:
    """The share of the documents that the query of `terms` (`search.tsquery(terms, every)`) matches at
    most in each tsvector column of `columns`, by PostgreSQL's statistics (0 where they hold none: an
    unanalyzed table, words not among the most common), and how many documents the table holds (0 if
    unknown)."""
    listed, documents = _statistics(session)
    shares = dict.fromkeys(columns, 0.0)
    if not any(listed.get(column) for column in columns):
        return shares, documents
    units = query_units(terms, every)
    texts = [" ".join(p.tokens) if p.kind == "phrase" else p.text for unit in units for p in unit]
    lexemes = iter(session.scalars(LEXEMES, {"texts": texts}).all() if texts else [])
    parts = [[(next(lexemes, None) or [], p.kind == "prefix" or (p.kind == "word" and every)) for p in unit]
             for unit in units]
    for column in columns:
        shares[column] = share(parts, every, listed.get(column, {}))
    return shares, documents


def _statistics(session: Session) -> Listed:
    """The most common lexemes of each column and the documents, read at most once every `FRESH` seconds
    per database."""
    bind = session.get_bind()
    now = time.monotonic()
    kept = _read.get(bind)
    if kept is not None and now - kept[0] < FRESH:
        return kept[1]
    listed: dict[str, dict[str, float]] = {}
    documents = 0.0
    for row in session.execute(STATISTICS, {"table": TABLE, "columns": list(COLUMNS)}):
        listed[row.attname] = dict(zip(row.lexemes or [], row.shares or [], strict=False))  # shares: 3 more
        documents = max(0.0, row.documents or 0.0)
    _read[bind] = (now, (listed, documents))
    return listed, documents


def share(units: Sequence[Sequence[Part]], every: bool, listed: Mapping[str, float]) -> float:
    """The share of documents a query matches at most, from the `listed` shares of the most common lexemes
    (a lexeme not listed counts as 0): `units` each a sequence of parts, all required; every unit required
    (`every`), or any."""
    def lexeme(word: str, prefix: bool) -> float:
        if prefix:
            return min(1.0, sum(value for listed_word, value in listed.items() if listed_word.startswith(word)))
        return listed.get(word, 0.0)

    def unit(parts: Sequence[Part]) -> float:
        return min((min((lexeme(word, prefix) for word in words), default=0.0) for words, prefix in parts),
                   default=0.0)

    shares = [unit(parts) for parts in units]
    return min(shares, default=0.0) if every else min(1.0, sum(shares))
