"""Reading pack files: YAML 1.2 scalars, positions, duplicate keys, syntax errors, alias bombs, file discovery."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from itsm.interpreter import source
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


# -- limits: links out of the pack, sizes, counts and depth are error lines, never a crash or a hang ------

TEAM = "kind: team\nid: {}\nname: Team\n"


def test_a_link_to_a_file_outside_the_pack_is_an_error_and_is_not_read(tmp_path: Path) -> None:
    pack, outside = tmp_path / "pack", tmp_path / "secrets"
    (pack / "teams").mkdir(parents=True)
    outside.mkdir()
    (outside / "key.yaml").write_text(TEAM.format("stolen"))
    (pack / "teams" / "ops.yaml").write_text(TEAM.format("ops"))
    (pack / "teams" / "absolute.yaml").symlink_to(outside / "key.yaml")
    (pack / "relative.yaml").symlink_to(Path("..") / "secrets" / "key.yaml")
    (pack / "teams" / "same.yaml").symlink_to(Path("ops.yaml"))  # inside the pack: read like any file
    problems: list[DefinitionError] = []
    docs = read_pack_files(pack, problems)
    assert [(d.file, d.id) for d in docs] == [("teams/ops.yaml", "ops"), ("teams/same.yaml", "ops")]
    assert [str(p) for p in problems] == [
        "relative.yaml:1:1: error: -: -: a symbolic link to a file outside the pack folder "
        "(../secrets/key.yaml): copy the file into the pack",
        f"teams/absolute.yaml:1:1: error: -: -: a symbolic link to a file outside the pack folder "
        f"({outside / 'key.yaml'}): copy the file into the pack"]


def test_a_pack_reached_through_a_link_reads_its_own_files(tmp_path: Path) -> None:
    real = tmp_path / "packs" / "v3"
    real.mkdir(parents=True)
    (real / "team.yaml").write_text(TEAM.format("ops"))
    (tmp_path / "definitions").symlink_to(real, target_is_directory=True)
    problems: list[DefinitionError] = []
    assert [d.id for d in read_pack_files(tmp_path / "definitions", problems)] == ["ops"] and problems == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "team.yaml").write_text(TEAM.format("ops"))
    problems: list[DefinitionError] = []
    assert [d.id for d in read_pack_files(tmp_path, problems)] == ["ops"]
    assert [str(p) for p in problems] == ["pipe.yaml:1:1: error: -: -: not a regular file: a pack holds YAML files"]


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_bytes(b"# " + b"x" * (source.MAX_FILE_BYTES - 3) + b"\n" + b"a: 1\n")
    problems: list[DefinitionError] = []
    assert read_pack_files(tmp_path, problems) == []
    assert [str(p) for p in problems] == [
        "big.yaml:1:1: error: -: -: the file is larger than 4 MiB: split it into several files"]


def test_files_over_the_pack_limit_together_stop_the_reading(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_PACK_BYTES", 2**20)
    filler = "# " + "x" * (2**19) + "\n"
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.yaml").write_text(filler + TEAM.format(name))
    problems: list[DefinitionError] = []
    assert [d.id for d in read_pack_files(tmp_path, problems)] == ["a"]
    assert [str(p) for p in problems] == ["b.yaml:1:1: error: -: -: the pack's files are larger than 1 MiB "
                                          "together: this file and those after it are not read"]


def test_documents_past_the_limit_are_one_error(tmp_path: Path) -> None:
    limit = source.MAX_DOCUMENTS
    (tmp_path / "a.yaml").write_text("---\n".join(TEAM.format(f"t{i}") for i in range(limit - 1)))
    (tmp_path / "b.yaml").write_text("---\n".join(TEAM.format(f"u{i}") for i in range(3)))
    (tmp_path / "c.yaml").write_text(TEAM.format("late"))
    problems: list[DefinitionError] = []
    docs = read_pack_files(tmp_path, problems)
    assert len(docs) == limit and docs[-1].id == "u0"
    assert [str(p) for p in problems] == [
        f"b.yaml:5:1: error: team/u1: -: more than {limit:,} documents in the pack: this one and those after "
        "it are not read"]


def test_deep_nesting_is_one_error_at_the_first_level_too_deep() -> None:
    deep = "[" * 51 + "x" + "]" * 51
    docs, problems = read(f"kind: team\nid: a\nname: A\nmembers: [{deep}, {deep}]\n")
    assert [str(p) for p in problems] == ["f.yaml:4:60: error: team/a: -: values are nested more than 50 levels deep"]
    assert docs[0].over_limit  # kept (so references to it resolve), but not checked further
    docs, problems = read("a: " + "[" * 50 + "]" * 50 + "\n")  # fifty levels are allowed
    assert problems == [] and not docs[0].over_limit


def test_without_libyaml_deep_nesting_is_an_error_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "_Loader", yaml.BaseLoader)
    docs, problems = read("a: " + "[" * 5000 + "]" * 5000 + "\n")  # the pure-Python composer recurses
    assert docs == [] and [str(p) for p in problems] == [
        "f.yaml:1:1: error: -: -: values are nested more than 50 levels deep"]


def test_long_texts_and_keys_are_errors_at_their_line() -> None:
    long = "x" * (source.MAX_TEXT + 1)
    docs, problems = read(f"kind: team\nid: a\nname: A\ndescription: {long}\n? {long}\n: 1\n")
    assert [str(p) for p in problems] == [
        "f.yaml:4:14: error: team/a: description: a text of 65,537 characters (at most 65,536): shorten it",
        "f.yaml:5:3: error: team/a: -: a key of 65,537 characters (at most 65,536)"]
    assert docs[0].over_limit and to_plain(docs[0].node) == {"kind": "team", "id": "a", "name": "A",
                                                             "description": None}


def test_windows_line_ends_keep_the_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "team.yaml").write_bytes(b"kind: team\r\nid: a\r\nname: [unclosed\r\n")
    problems: list[DefinitionError] = []
    read_pack_files(tmp_path, problems)
    assert [p.position.line for p in problems] == [4]
