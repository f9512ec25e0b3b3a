"""The labelled Chinese corpus (tests/data, 511 texts, 151 queries) through the real store on SQLite: the
queue's search (every word required) must keep its measured recall and precision (docs/search-zh.md,
"What was built"). One in-memory database, the texts written as the engine writes documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.pool import StaticPool

from itsm.store import Database, Ticket
from itsm.store.search import match_rows, write_documents
from itsm.store.search_text import query_words

DATA = Path(__file__).resolve().parents[1] / "data"
TOP = 5
# Measured on this implementation (SQLite and PostgreSQL alike): R@5 0.988, P@5 0.981, R@all 0.989, P@all 0.979.
MIN_RECALL_5, MIN_PRECISION_5, MIN_RECALL_ALL, MIN_PRECISION_ALL = 0.97, 0.97, 0.97, 0.97


def _lines(name: str) -> list[dict[str, Any]]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def corpus() -> Iterator[tuple[Database, dict[int, str]]]:
    database = Database("sqlite://", poolclass=StaticPool)
    database.upgrade()
    texts = _lines("incidents_zh.jsonl")
    now = datetime(2026, 1, 5, tzinfo=UTC)
    with database.write() as session:
        session.execute(insert(Ticket), [
            {"id": i, "number": f"INC{i:07d}", "process": "incident", "state": "new", "is_open": True,
             "requester": "rita", "fields": {}, "version": 1, "definitions_version": "v", "created_at": now,
             "updated_at": now, "state_entered_at": now} for i, _ in enumerate(texts, 1)])
        write_documents(session, [(i, t["title"], t["description"]) for i, t in enumerate(texts, 1)])
    yield database, {i: t["id"] for i, t in enumerate(texts, 1)}
    database.dispose()


def test_the_labelled_corpus_keeps_its_recall_and_precision(corpus: tuple[Database, dict[int, str]]) -> None:
    database, ids = corpus
    recall5, precision5, recall_all, precision_all, missed = [], [], [], [], []
    with database.read() as session:
        for query in _lines("search_queries_zh.jsonl"):
            relevant = set(query["relevant"])
            found = [ids[row.id] for row in match_rows(session, query_words(query["query"]), [], 1000, every=True)]
            top = found[:TOP]
            if relevant:
                recall5.append(len(set(top) & relevant) / min(TOP, len(relevant)))
                recall_all.append(len(set(found) & relevant) / len(relevant))
                if not found:
                    missed.append(query["query"])
            if top:
                precision5.append(len(set(top) & relevant) / len(top))
                precision_all.append(len(set(found) & relevant) / len(found))
    figures = {"R@5": fmean(recall5), "P@5": fmean(precision5), "R@all": fmean(recall_all),
               "P@all": fmean(precision_all)}
    assert missed == [], figures
    assert figures["R@5"] >= MIN_RECALL_5 and figures["P@5"] >= MIN_PRECISION_5, figures
    assert figures["R@all"] >= MIN_RECALL_ALL and figures["P@all"] >= MIN_PRECISION_ALL, figures
