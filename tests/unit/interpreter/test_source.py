"""Reading pack files: YAML 1.2 scalars, positions, duplicate keys, syntax errors, alias bombs, file discovery."""

from __future__ import annotations

from pathlib import Path

from itsm.interpreter.errors import DefinitionError
from itsm.interpreter.source import read_pack_files, read_text, to_plain


def read(text: str) -> tuple[list, list[DefinitionError]]:
    problems: list[DefinitionError] = []
    docs = read_text(text, "f.yaml", Path("."), problems)
    return docs, problems


def test_yaml_1_2_scalars_so_no_and_on_stay_text() -> None:
    (doc,), problems = read("a: no\nb: on\nc: yes\nd: true\ne: 'true'\nf: 0o17\ng: 1.5\nh: ~\ni: 2026-10-01\nj: 012\n")
    assert problems == []
    assert to_plain(doc.node) == {"a": "no", "b": "on", "c": "yes", "d": True, "e": "true", "f": 15, "g": 1.5,
                                  "h": None, "i": "2026-10-01", "j": 12}


def test_every_value_knows_its_line_and_column() -> None:
    (doc,), _ = read("kind: process\nstates:\n  - id: new\n    label: New\n")
    state = doc.node.value["states"].value[0]
    assert (state.value["label"].pos.line, state.value["label"].pos.col) == (4, 12)
    assert (state.value["label"].key_pos.line, state.value["label"].key_pos.col) == (4, 5)


def test_duplicate_keys_are_errors_with_both_lines() -> None:
    _, problems = read("kind: team\nid: a\nname: A\nname: B\n")
    assert [str(p) for p in problems] == ["f.yaml:4:1: error: team/a: name: duplicate key 'name' (first at line 3)"]


def test_syntax_errors_point_at_the_problem_and_keep_earlier_documents() -> None:
    docs, problems = read("kind: pack\nid: a\n---\nkind: team\nid: [unclosed\n")
    assert len(docs) == 1
    (problem,) = problems
    assert str(problem).startswith("f.yaml:6:1: error: -: -: YAML syntax error: ")


def test_alias_bombs_are_refused_not_expanded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    docs, problems = read("\n".join(lines) + "\n")
    assert docs == []
    assert "document is too large" in problems[0].message


def test_merge_keys_are_refused_with_a_pointer_to_overlays() -> None:
    _, problems = read("base: &b {x: 1}\nother:\n  <<: *b\n")
    assert "merge keys (<<) are not supported" in problems[0].message


def test_files_are_read_sorted_skipping_hidden_folders_and_nested_packs(tmp_path: Path) -> None:
    for name in ("b.yaml", "a/z.yml", ".github/workflows/ci.yml", "client/pack.yaml", "notes.txt"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"kind: team\nid: t{abs(hash(name)) % 1000}\n")
    docs = read_pack_files(tmp_path, [])
    assert [d.file for d in docs] == ["a/z.yml", "b.yaml"]


def test_empty_documents_are_skipped_but_explicit_values_are_not() -> None:
    docs, problems = read("---\n# nothing yet\n---\nkind: team\nid: a\n---\n")
    assert [to_plain(d.node) for d in docs] == [{"kind": "team", "id": "a"}]
    assert problems == []
    docs, _ = read("kind: team\nid: a\n---\n''\n")
    assert [to_plain(d.node) for d in docs] == [{"kind": "team", "id": "a"}, ""]
