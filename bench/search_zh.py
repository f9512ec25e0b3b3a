"""Chinese search benchmark: finding Chinese words inside Chinese text with the databases' full-text indexes.

    python bench/search_zh.py [--backends sqlite,postgresql] [--repeat R] [--scale N]

Needs the `bench` extra (`pip install -e '.[bench]'`: jieba). Compares, on the labelled corpus of
tests/data/ (511 incident texts, 151 queries whose relevant texts were judged by reading; README there):

- jieba: the text cut by jieba's search mode (`cut_for_search`: words and the shorter words inside them),
  the tokens joined with spaces into the indexed text; the query cut the same way, every token required.
- bigram: overlapping bigrams of each run of Han characters (a lone character stays a unigram), Latin
  letters and digits as lower-case words; the query likewise, every token required.
- like: `LIKE '%word%'` (ILIKE on PostgreSQL) on the raw text for every word of the query, no index and
  no ranking: the reference for recall (relevance is lexical, so it finds every relevant text).

Both indexed ways run on SQLite FTS5 (`unicode61` over the pre-tokenized text, bm25 with the title weighed
twice, as `itsm.store.search` does) in a temporary file, and on PostgreSQL (`simple` tsvector of the same
text, title weight A and body B, GIN index, ts_rank) in a temporary schema of $ITSM_TEST_POSTGRES_URL
(skipped with a note when unset or unreachable). Figures: recall@5 and precision@5 (means over queries;
definitions in docs/search-zh.md), recall and precision over all matches, index size, build time
(tokenizing + loading + indexing) and median query time (tokenizing the query included) over R rounds
of all queries. `--scale N` also times and sizes the indexes with the corpus copied N times. The machine is
shared: mind the load average printed first. Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jieba
from sqlalchemy import Connection, create_engine, text

from databases import postgres_database, postgres_version, sqlite_database

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD = re.compile(f"[{HAN}]+|[0-9a-z]+")  # what counts as text: Han runs, Latin/digit runs
TOP = 5
Tokenizer = Callable[[str], list[str]]


@dataclass(frozen=True)
class Doc:
    key: int  # row id in the database
    id: str  # corpus id (z0001)
    title: str
    body: str


def bigram_tokens(value: str) -> list[str]:
    tokens: list[str] = []
    for run in WORD.findall(value.lower()):
        if "a" <= run[0] <= "z" or run[0].isdigit():
            tokens.append(run)
        else:
            tokens.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
    return tokens


def jieba_tokens(value: str) -> list[str]:
    return [part for token in jieba.cut_for_search(value.lower()) for part in WORD.findall(token)]


TOKENIZERS: dict[str, Tokenizer] = {"jieba": jieba_tokens, "bigram": bigram_tokens}


def query_tokens(tokenize: Tokenizer, query: str) -> list[str]:
    return list(dict.fromkeys(tokenize(query)))  # unique, in order


# --- backends: each builds an index of pre-tokenized text and answers token queries ---------------------

class Backend:
    name = ""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def build(self, docs: Sequence[Doc], tokenize: Tokenizer) -> None:
        raise NotImplementedError

    def index_bytes(self) -> int:
        raise NotImplementedError

    def search(self, tokens: Sequence[str], limit: int | None) -> list[int]:
        """Row keys of the texts that contain every token, best first."""
        raise NotImplementedError

    def load_raw(self, docs: Sequence[Doc]) -> None:
        raise NotImplementedError

    def like(self, words: Sequence[str]) -> list[int]:
        """Row keys of the raw texts that contain every word, in key order."""
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "sqlite"

    def build(self, docs: Sequence[Doc], tokenize: Tokenizer) -> None:
        c = self.connection
        c.exec_driver_sql("DROP TABLE IF EXISTS docs_fts")
        c.exec_driver_sql("CREATE VIRTUAL TABLE docs_fts USING fts5(title, body, tokenize='unicode61')")
        c.execute(text("INSERT INTO docs_fts(rowid, title, body) VALUES (:key, :title, :body)"),
                  [{"key": d.key, "title": " ".join(tokenize(d.title)), "body": " ".join(tokenize(d.body))}
                   for d in docs])
        c.commit()

    def index_bytes(self) -> int:  # the FTS5 shadow tables but the copy of the text (`_content`)
        return int(self.connection.exec_driver_sql(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'docs_fts_%' AND name != 'docs_fts_content'"
        ).scalar_one())

    def search(self, tokens: Sequence[str], limit: int | None) -> list[int]:
        match = " ".join('"' + t.replace('"', '""') + '"' for t in tokens)
        sql = "SELECT rowid FROM docs_fts WHERE docs_fts MATCH :q ORDER BY bm25(docs_fts, 2.0, 1.0), rowid"
        rows = self.connection.execute(text(sql + (" LIMIT :n" if limit else "")), {"q": match, "n": limit})
        return [row[0] for row in rows]

    def load_raw(self, docs: Sequence[Doc]) -> None:
        self.connection.exec_driver_sql("DROP TABLE IF EXISTS raw")
        self.connection.exec_driver_sql("CREATE TABLE raw (key INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        self.connection.execute(text("INSERT INTO raw VALUES (:key, :body)"),
                                [{"key": d.key, "body": d.title + "\n" + d.body} for d in docs])
        self.connection.commit()

    def like(self, words: Sequence[str]) -> list[int]:
        where = " AND ".join(f"body LIKE :w{i} ESCAPE '\\'" for i in range(len(words)))
        params = {f"w{i}": "%" + _escape_like(w) + "%" for i, w in enumerate(words)}
        return [row[0] for row in self.connection.execute(text(f"SELECT key FROM raw WHERE {where} ORDER BY key"),
                                                          params)]


PG_DOC = "(setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('simple', body), 'B'))"


class PostgresBackend(Backend):
    name = "postgresql"

    def build(self, docs: Sequence[Doc], tokenize: Tokenizer) -> None:
        c = self.connection
        c.exec_driver_sql("DROP TABLE IF EXISTS docs")
        c.exec_driver_sql("CREATE TABLE docs (key integer PRIMARY KEY, title text NOT NULL, body text NOT NULL)")
        c.execute(text("INSERT INTO docs VALUES (:key, :title, :body)"),
                  [{"key": d.key, "title": " ".join(tokenize(d.title)), "body": " ".join(tokenize(d.body))}
                   for d in docs])
        c.exec_driver_sql(f"CREATE INDEX ix_docs ON docs USING gin ({PG_DOC})")
        c.exec_driver_sql("ANALYZE docs")
        c.commit()

    def index_bytes(self) -> int:
        return int(self.connection.exec_driver_sql("SELECT pg_relation_size('ix_docs')").scalar_one())

    def search(self, tokens: Sequence[str], limit: int | None) -> list[int]:
        sql = (f"SELECT key FROM docs, plainto_tsquery('simple', :q) AS q WHERE {PG_DOC} @@ q "
               f"ORDER BY ts_rank({PG_DOC}, q, 1) DESC, key")
        rows = self.connection.execute(text(sql + (" LIMIT :n" if limit else "")),
                                       {"q": " ".join(tokens), "n": limit})
        return [row[0] for row in rows]

    def load_raw(self, docs: Sequence[Doc]) -> None:
        self.connection.exec_driver_sql("DROP TABLE IF EXISTS raw")
        self.connection.exec_driver_sql("CREATE TABLE raw (key integer PRIMARY KEY, body text NOT NULL)")
        self.connection.execute(text("INSERT INTO raw VALUES (:key, :body)"),
                                [{"key": d.key, "body": d.title + "\n" + d.body} for d in docs])
        self.connection.commit()

    def like(self, words: Sequence[str]) -> list[int]:
        where = " AND ".join(f"body ILIKE :w{i}" for i in range(len(words)))
        params = {f"w{i}": "%" + _escape_like(w) + "%" for i, w in enumerate(words)}
        return [row[0] for row in self.connection.execute(text(f"SELECT key FROM raw WHERE {where} ORDER BY key"),
                                                          params)]


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- measuring ------------------------------------------------------------------------------------------

@dataclass
class Scores:
    recall5: list[float]
    precision5: list[float]
    recall_all: list[float]
    precision_all: list[float]
    missed: int  # queries with relevant texts and no result at all

    @staticmethod
    def empty() -> Scores:
        return Scores([], [], [], [], 0)

    def add(self, ranked: Sequence[str], relevant: set[str], ranked_all: Sequence[str]) -> None:
        top = ranked[:TOP]
        hits = len(set(top) & relevant)
        if relevant:
            self.recall5.append(hits / min(TOP, len(relevant)))
            self.recall_all.append(len(set(ranked_all) & relevant) / len(relevant))
            self.missed += not ranked_all
        if top:  # precision of what is shown; a query that shows nothing has none
            self.precision5.append(hits / len(top))
            self.precision_all.append(len(set(ranked_all) & relevant) / len(ranked_all))


def load() -> tuple[list[Doc], list[dict[str, Any]]]:
    with open(DATA / "incidents_zh.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    with open(DATA / "search_queries_zh.jsonl", encoding="utf-8") as f:
        queries = [json.loads(line) for line in f if line.strip()]
    return [Doc(i, r["id"], r["title"], r["description"]) for i, r in enumerate(rows, 1)], queries


def copies(docs: Sequence[Doc], n: int) -> list[Doc]:
    return [Doc(k * len(docs) + d.key, d.id, d.title, d.body) for k in range(n) for d in docs]


def mean(values: Sequence[float]) -> str:
    return f"{statistics.fmean(values):.3f}" if values else "-"


def timed_queries(backend: Backend, tokenize: Tokenizer, queries: Sequence[dict[str, Any]], repeat: int) -> float:
    """Median milliseconds of one query (tokenizing included, top 5), over `repeat` rounds of all queries."""
    times = []
    for _ in range(repeat):
        for q in queries:
            start = time.perf_counter()
            backend.search(query_tokens(tokenize, q["query"]), TOP)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(backend: Backend, docs: Sequence[Doc], queries: Sequence[dict[str, Any]], repeat: int,
            kinds: dict[tuple[str, str], Scores], verbose: bool) -> list[list[str]]:
    key_to_id = {d.key: d.id for d in docs}
    rows = []
    for method, tokenize in TOKENIZERS.items():
        start = time.perf_counter()
        backend.build(docs, tokenize)
        build = time.perf_counter() - start
        scores = Scores.empty()
        for q in queries:
            tokens = query_tokens(tokenize, q["query"])
            ranked = [key_to_id[k] for k in backend.search(tokens, TOP)] if tokens else []
            ranked_all = [key_to_id[k] for k in backend.search(tokens, None)] if tokens else []
            scores.add(ranked, set(q["relevant"]), ranked_all)
            if verbose:
                report(backend.name, method, q, tokens, ranked_all)
            kinds.setdefault((f"{backend.name}:{q['kind']}", method), Scores.empty()).add(
                ranked, set(q["relevant"]), ranked_all)
        median = timed_queries(backend, tokenize, queries, repeat)
        rows.append([backend.name, method, mean(scores.recall5), mean(scores.precision5), mean(scores.recall_all),
                     mean(scores.precision_all), str(scores.missed), f"{backend.index_bytes() / 1024:.0f}",
                     f"{build * 1000:.0f}", f"{median:.2f}"])
    backend.load_raw(docs)
    scores = Scores.empty()
    times = []
    for q in queries:
        start = time.perf_counter()
        found = [key_to_id[k] for k in backend.like(q["query"].lower().split())]
        times.append(time.perf_counter() - start)
        scores.add(found[:TOP], set(q["relevant"]), found)
        kinds.setdefault((f"{backend.name}:{q['kind']}", "like"), Scores.empty()).add(
            found[:TOP], set(q["relevant"]), found)
    rows.append([backend.name, "like", "-", "-", mean(scores.recall_all), mean(scores.precision_all),
                 str(scores.missed), "-", "-", f"{statistics.median(times) * 1000:.2f}"])
    return rows


def report(database: str, method: str, query: dict[str, Any], tokens: Sequence[str], found: Sequence[str]) -> None:
    """`--verbose`: the relevant texts a query misses and the texts it finds that are not relevant."""
    missed = [i for i in query["relevant"] if i not in found]
    extra = [i for i in found if i not in query["relevant"]]
    if missed or extra:
        print(f"{database} {method} {query['query']!r} -> {' '.join(tokens)}: "
              f"missed {' '.join(missed) or '-'}; not relevant {' '.join(extra) or '-'}")


def scaled(backend: Backend, docs: Sequence[Doc], queries: Sequence[dict[str, Any]], repeat: int) -> list[list[str]]:
    rows = []
    for method, tokenize in TOKENIZERS.items():
        start = time.perf_counter()
        backend.build(docs, tokenize)
        build = time.perf_counter() - start
        rows.append([backend.name, method, str(len(docs)), f"{backend.index_bytes() / 1024:.0f}",
                     f"{build * 1000:.0f}", f"{timed_queries(backend, tokenize, queries, repeat):.2f}"])
    backend.load_raw(docs)
    times = []
    for _ in range(repeat):
        for q in queries:
            start = time.perf_counter()
            backend.like(q["query"].lower().split())
            times.append(time.perf_counter() - start)
    rows.append([backend.name, "like", str(len(docs)), "-", "-", f"{statistics.median(times) * 1000:.2f}"])
    return rows


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(f"{{:{w}}}" for w in widths) + " |"
    return "\n".join([line.format(*header), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line.format(*r) for r in rows)])


def databases(names: Sequence[str]) -> Iterator[tuple[str, Callable[[], AbstractContextManager[str]]]]:
    for name in names:
        if name == "sqlite":
            yield name, sqlite_database
            continue
        base = os.environ.get("ITSM_TEST_POSTGRES_URL")
        if not base:
            print("postgresql: skipped, ITSM_TEST_POSTGRES_URL is not set")
        elif postgres_version(base) is not None:
            yield name, postgres_database(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of all queries for the query time")
    parser.add_argument("--scale", type=int, default=1, help="also time and size an index of N copies")
    parser.add_argument("--verbose", action="store_true", help="list each query's misses and false matches")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    jieba.setLogLevel(logging.WARNING)
    start = time.perf_counter()
    jieba.initialize()
    print(f"jieba {jieba.__version__}: dictionary loaded in {(time.perf_counter() - start) * 1000:.0f} ms "
          "(once per process, not in the build times)")
    docs, queries = load()
    raw = sum(len((d.title + d.body).encode()) for d in docs)
    sizes = {m: sum(len(" ".join(t(d.title) + t(d.body)).encode()) for d in docs) for m, t in TOKENIZERS.items()}
    print(f"{len(docs)} texts ({raw / 1024:.0f} KiB raw; tokenized: "
          + ", ".join(f"{m} {s / 1024:.0f} KiB" for m, s in sizes.items())
          + f"), {len(queries)} queries ({sum(1 for q in queries if q['relevant'])} with relevant texts)\n")
    rows: list[list[str]] = []
    big: list[list[str]] = []
    kinds: dict[tuple[str, str], Scores] = {}
    for name, database in databases(args.backends.split(",")):
        backend_class = SQLiteBackend if name == "sqlite" else PostgresBackend
        with database() as url:
            engine = create_engine(url)
            with engine.connect() as connection:
                rows += measure(backend_class(connection), docs, queries, args.repeat, kinds, args.verbose)
                if args.scale > 1:
                    big += scaled(backend_class(connection), copies(docs, args.scale), queries, args.repeat)
            engine.dispose()
    print(table(["database", "method", "R@5", "P@5", "R@all", "P@all", "missed", "index KiB", "build ms",
                 "query ms"], rows))
    by_kind: dict[str, dict[str, str]] = defaultdict(dict)
    for (where, method), scores in kinds.items():
        if ":" in where:
            by_kind[where][method] = f"{mean(scores.recall_all)} / {mean(scores.precision_all)}"
    print("\nrecall / precision over all matches, by kind of query (tests/data/README.md)")
    print(table(["database:kind", "queries", *TOKENIZERS, "like"],
                [[where, str(sum(1 for q in queries if q["kind"] == where.split(":")[1])),
                  *(cells.get(m, "-") for m in [*TOKENIZERS, "like"])] for where, cells in sorted(by_kind.items())]))
    if big:
        print(f"\nthe corpus copied {args.scale} times")
        print(table(["database", "method", "texts", "index KiB", "build ms", "query ms"], big))


if __name__ == "__main__":
    main()
