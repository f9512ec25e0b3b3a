"""The labelled Chinese incident corpus and its search queries (tests/data/README.md) stay well-formed: the
search and triage measurements built on them are only as good as these files."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
INCIDENT_KEYS = {"id", "title", "description", "service", "category", "team", "lang", "hard"}
LANGS = {"zh", "en", "mixed"}
QUERY_KINDS = {"zh", "zh-multi", "latin", "mixed", "boundary", "synonym"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def _lines(name: str) -> list[dict[str, Any]]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def incidents() -> list[dict[str, Any]]:
    return _lines("incidents_zh.jsonl")


@pytest.fixture(scope="module")
def queries() -> list[dict[str, Any]]:
    return _lines("search_queries_zh.jsonl")


def _choices(field: str) -> set[str]:
    form = yaml.safe_load((ROOT / "definitions" / "forms" / "incident.yaml").read_text(encoding="utf-8"))
    (spec,) = [f for f in form["fields"] if f["id"] == field]
    return {c["value"] for c in spec["choices"]}


def _teams() -> set[str]:
    """The teams a text can point to: not those with `org_scope`, which the requester's organization picks."""
    teams = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in (ROOT / "definitions" / "teams").glob("*.yaml")]
    return {team["id"] for team in teams if "org_scope" not in team}


def test_incidents_have_the_documented_keys_and_unique_ids(incidents: list[dict[str, Any]]) -> None:
    for row in incidents:
        assert set(row) == INCIDENT_KEYS, row
        assert re.fullmatch(r"z\d{4}", row["id"]), row
        assert isinstance(row["title"], str) and row["title"].strip(), row
        assert isinstance(row["description"], str), row
        assert isinstance(row["hard"], bool), row
    ids = [row["id"] for row in incidents]
    assert len(ids) == len(set(ids))
    texts = [(row["title"], row["description"]) for row in incidents]
    assert len(texts) == len(set(texts)), "the same text twice"


def test_labels_are_values_of_the_default_pack(incidents: list[dict[str, Any]]) -> None:
    services, categories, teams = _choices("service"), _choices("category"), _teams()
    for row in incidents:
        assert row["service"] in services, row
        assert row["category"] in categories, row
        assert row["team"] in teams, row
        assert row["lang"] in LANGS, row
    # every value is used, so a model trained on the corpus can learn each one
    assert {row["service"] for row in incidents} == services
    assert {row["category"] for row in incidents} == categories
    assert {row["team"] for row in incidents} == teams


def test_incident_counts_meet_the_minimums(incidents: list[dict[str, Any]]) -> None:
    assert len(incidents) >= 480
    langs = Counter(row["lang"] for row in incidents)
    assert langs["zh"] >= 0.75 * len(incidents)
    assert langs["en"] >= 0.08 * len(incidents) and langs["mixed"] >= 0.08 * len(incidents)
    assert sum(row["hard"] for row in incidents) >= 40
    for row in incidents:  # Chinese texts are Chinese, English ones are not
        text = row["title"] + row["description"]
        assert bool(HAN.search(text)) == (row["lang"] != "en"), row
    lengths = [len(row["title"] + row["description"]) for row in incidents]
    assert min(lengths) <= 8 and max(lengths) >= 100, "lengths from a few characters to several sentences"


def test_every_incident_can_be_filed_on_the_default_incident_form(incidents: list[dict[str, Any]]) -> None:
    """Titles fit `short_description` (5-160 characters), so a loader can create tickets from the rows."""
    form = yaml.safe_load((ROOT / "definitions" / "forms" / "incident.yaml").read_text(encoding="utf-8"))
    fields = {f["id"]: f for f in form["fields"]}
    title, description = fields["short_description"], fields["description"]
    for row in incidents:
        assert title["min_length"] <= len(row["title"]) <= title["max_length"], row
        assert len(row["description"]) <= description["max_length"], row


def test_queries_are_well_formed_and_their_relevant_ids_exist(
        queries: list[dict[str, Any]], incidents: list[dict[str, Any]]) -> None:
    ids = {row["id"] for row in incidents}
    assert len(queries) >= 120
    assert len({q["query"] for q in queries}) == len(queries)
    for q in queries:
        assert set(q) == {"query", "relevant", "kind"}, q
        assert q["query"].strip() == q["query"] and q["query"], q
        assert q["kind"] in QUERY_KINDS, q
        assert len(q["relevant"]) == len(set(q["relevant"])), q
        assert set(q["relevant"]) <= ids, q
        assert q["relevant"] or q["kind"] == "synonym", q
    kinds = Counter(q["kind"] for q in queries)
    assert kinds["zh"] >= 60 and kinds["latin"] + kinds["mixed"] >= 10
    assert kinds["boundary"] >= 5 and kinds["synonym"] >= 5
    assert sum(1 for q in queries if len(q["query"]) == 2 and HAN.search(q["query"])) >= 20


def test_relevant_texts_contain_the_words_of_their_query(
        queries: list[dict[str, Any]], incidents: list[dict[str, Any]]) -> None:
    """Relevance is lexical (tests/data/README.md): a relevant text contains each Latin word of the query as
    a word and each Chinese part of it, or (a phrase whose words stand apart in the text) all its characters."""
    text = {row["id"]: (row["title"] + "\n" + row["description"]).lower() for row in incidents}
    for q in queries:
        for doc in q["relevant"]:
            for part in q["query"].lower().split():
                if HAN.search(part):
                    assert part in text[doc] or set(part) <= set(text[doc]), (q["query"], doc)
                else:
                    assert re.search(rf"(?<![0-9a-z]){re.escape(part)}(?![0-9a-z])", text[doc]), (q["query"], doc)


def test_the_spec_example_is_a_query(queries: list[dict[str, Any]], incidents: list[dict[str, Any]]) -> None:
    """SPEC 15: `打印机` finds `打印机损坏，无法打印`."""
    (printer,) = [q for q in queries if q["query"] == "打印机"]
    damaged = {row["id"] for row in incidents if "打印机损坏，无法打印" in row["title"] + row["description"]}
    assert damaged and damaged <= set(printer["relevant"])
