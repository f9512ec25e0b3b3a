"""SubsetValidator gives the same verdicts as jsonschema on the kind schemas (it replaces it for speed)."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from itsm.interpreter.schema import SCHEMAS
from itsm.interpreter.source import read_pack_files, to_plain
from itsm.interpreter.validator import SubsetValidator

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = [to_plain(d.node) for d in read_pack_files(ROOT / "definitions", [])] + [
    to_plain(d.node) for p in (ROOT / "tests" / "packs" / "valid").iterdir() for d in read_pack_files(p, [])]
REFERENCE = {kind: Draft202012Validator(schema) for kind, schema in SCHEMAS.items()}
SUBSET = {kind: SubsetValidator(schema) for kind, schema in SCHEMAS.items()}
ODD_VALUES = [None, True, False, 0, 1, -3, 2.5, "", "x", "Bad-Id", "P1", "09:00-17:00", "75%", [], ["a"], [1],
              {}, {"id": "x"}, {"unknown": 1}, [{"id": "a", "to": "b"}], "*", 1e300]


def verdicts(document: dict[str, Any]) -> tuple[set[tuple], set[tuple]]:
    kind = document.get("kind")
    reference = {(e.validator, tuple(e.absolute_path)) for e in REFERENCE[kind].iter_errors(document)}
    subset = {(e.validator, tuple(e.absolute_path)) for e in SUBSET[kind].iter_errors(document)}
    return reference, subset


def test_every_kind_schema_is_valid_draft_2020_12() -> None:
    for schema in SCHEMAS.values():
        Draft202012Validator.check_schema(schema)


def test_the_real_documents_get_the_same_verdicts() -> None:
    assert len(DOCUMENTS) > 25
    for document in DOCUMENTS:
        reference, subset = verdicts(document)
        assert subset == reference, document["id"]
    default_pack = [to_plain(d.node) for d in read_pack_files(ROOT / "definitions", [])]
    assert all(verdicts(document) == (set(), set()) for document in default_pack)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            out.extend(_paths(sub, (*prefix, key)))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            out.extend(_paths(sub, (*prefix, i)))
    return out


def mutate(document: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Replace a value, add an unknown key or delete a key somewhere in the document."""
    doc = copy.deepcopy(document)
    path = rng.choice([p for p in _paths(doc) if p and p[0] != "kind"])
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    action = rng.random()
    if action < 0.6:
        parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif action < 0.8 and isinstance(parent, dict):
        parent["bogus_" + str(path[-1])] = 1
    elif isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, list):
        parent.pop(path[-1])
    return doc


@settings(max_examples=1500, deadline=None)
@given(st.integers(min_value=0, max_value=len(DOCUMENTS) - 1), st.randoms(use_true_random=False))
def test_mutated_documents_get_the_same_errors_from_both(index: int, rng: random.Random) -> None:
    document = mutate(DOCUMENTS[index], rng)
    reference, subset = verdicts(document)
    assert subset == reference


def test_an_unsupported_keyword_is_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="maxItems"):
        SubsetValidator({"type": "array", "maxItems": 2})
