"""The `itsm` command line: exit codes, summary line, error lines, graph and schema output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from itsm.cli import main
from itsm.interpreter.source import read_pack_files, to_plain

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "definitions"
PACKS = ROOT / "tests" / "packs"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_validate_the_default_pack_prints_one_summary_line() -> None:
    code, out = run("validate", str(DEFINITIONS))
    assert code == 0
    (line,) = out.splitlines()
    assert "pack 'default' is valid: 2 processes, " in line
    for counted in ("states", "transitions", "fields", "teams", "clocks"):
        assert f" {counted}" in line


def test_validate_defaults_to_definitions_in_the_working_directory() -> None:
    out = subprocess.run([sys.executable, "-m", "itsm.cli", "validate"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("definitions: pack 'default' is valid")


def test_validate_an_invalid_pack_prints_error_lines_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text("kind: pack\nid: broken\nformat: 1\n---\nkind: team\nid: x\nteir: L1\n")
    code, out = run("validate", str(tmp_path))
    assert code == 1
    assert out.splitlines()[0] == "pack.yaml:7:1: error: team/x: teir: unknown key 'teir' (did you mean 'tier'?)"
    assert out.splitlines()[-1] == f"{tmp_path}: 1 error"


def test_validate_names_a_link_out_of_the_pack_and_does_not_read_it(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    for path in sorted((PACKS / "valid" / "minimal").glob("*.yaml")):
        (pack / path.name).write_text(path.read_text())
    (tmp_path / "passwd.yaml").write_text("kind: team\nid: root\nname: 'root:x:0:0'\n")
    (pack / "users.yaml").symlink_to(tmp_path / "passwd.yaml")
    code, out = run("validate", str(pack))
    assert code == 1 and "root:x" not in out
    assert out.splitlines()[0] == (f"users.yaml:1:1: error: -: -: a symbolic link to a file outside the pack "
                                   f"folder ({tmp_path / 'passwd.yaml'}): copy the file into the pack")
    assert out.splitlines()[-1] == f"{pack}: 1 error"


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("validate", str(tmp_path / "missing"))[0] == 2
    assert run("validate", "--no-such-option")[0] == 2
    assert run("graph")[0] == 2
    code, out = run("graph", "incidnt", "--pack", str(DEFINITIONS))
    assert code == 2 and "did you mean 'incident'" in out


def test_graph_prints_a_labelled_state_diagram() -> None:
    code, out = run("graph", "incident", "--pack", str(DEFINITIONS))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert "    [*] --> new" in lines
    assert any(line.startswith("    in_progress --> resolved: ") for line in lines)
    assert "    closed --> [*]" in lines
    assert any("(after 3bd)" in line for line in lines)  # timed transitions say when


def test_schema_writes_one_schema_per_kind_that_editors_can_use(tmp_path: Path) -> None:
    code, out = run("schema", "--out", str(tmp_path))
    assert code == 0
    schemas = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    kinds = {"pack", "form", "process", "priority_matrix", "calendar", "sla_policy", "team", "routing",
             "notification", "scenario", "intake"}
    assert set(schemas) == kinds | {"document", "overlay"}
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith(f"/{name}.json") and schema["title"] and schema["description"]
    for kind in kinds:
        _assert_every_property_is_described(schemas[kind], kind)

    # The dispatching document schema accepts every document of the default pack, and refuses a typo.
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
    validator = Draft202012Validator(schemas["document"], registry=registry)
    documents = [to_plain(d.node) for d in read_pack_files(DEFINITIONS, [])]
    assert len(documents) > 20
    for document in documents:
        assert list(validator.iter_errors(document)) == [], document["id"]
    assert not validator.is_valid({"kind": "team", "id": "x", "teir": "L1"})

    # The overlay schema accepts partial documents and removals (SPEC 3.1), and still refuses typos.
    overlay = Draft202012Validator(schemas["overlay"], registry=registry)
    client = [to_plain(d.node) for d in read_pack_files(PACKS / "valid" / "overlay_client", [])]
    assert len(client) == 5 and not validator.is_valid(client[1])  # a partial process is no whole document
    for document in client + documents:
        assert list(overlay.iter_errors(document)) == [], document["id"]
    assert overlay.is_valid({"kind": "process", "id": "incident", "remove": True})
    assert overlay.is_valid({"kind": "form", "id": "incident", "fields": [{"id": "location", "remove": True}]})
    assert not overlay.is_valid({"kind": "process", "id": "incident", "lable": "Incident"})
    assert not overlay.is_valid({"kind": "form", "id": "incident", "fields": [{"id": "x", "typ": "string"}]})
    assert overlay.is_valid({"kind": "routing", "id": "r", "rules": [{"id": "access", "before": "vip", "team": "t"}]})
    assert overlay.is_valid({"kind": "process", "id": "p", "transitions": [{"id": "t", "before": "x", "after": 3600}]})
    assert not overlay.is_valid({"kind": "routing", "id": "r", "rules": [{"id": "access", "befor": "vip"}]})


def _assert_every_property_is_described(schema: object, where: str) -> None:
    if isinstance(schema, dict):
        for key, sub in schema.get("properties", {}).items():
            assert "description" in sub, f"{where}.{key} has no description"
        for key, sub in schema.items():
            if key not in ("enum", "const", "required"):
                _assert_every_property_is_described(sub, f"{where}.{key}")
    elif isinstance(schema, list):
        for sub in schema:
            _assert_every_property_is_described(sub, where)


def test_the_committed_language_reference_is_generated_from_the_schemas() -> None:
    from itsm.interpreter.reference import reference_markdown

    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), "run: itsm schema --reference docs/reference.md"
    assert "### `process` › `transitions`" in committed and "| `after` |" in committed


def test_a_folder_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for args, target in ((["schema", "--out", str(blocker / "schemas")], "schemas"),
                         (["schema", "--reference", str(blocker / "reference.md")], "reference.md"),
                         (["init", str(blocker / "client"), "--extends", str(DEFINITIONS)], "client")):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), args
        assert result.output.splitlines()[-1] == f"error: {blocker / target}: Not a directory"


def test_the_document_schema_works_on_its_own_without_fetching_its_refs(tmp_path: Path) -> None:
    """Its `$id` is a URL nobody serves: a validator given only document.json must not need the network."""
    assert run("schema", "--out", str(tmp_path))[0] == 0
    validator = Draft202012Validator(json.loads((tmp_path / "document.json").read_text()))
    documents = [to_plain(d.node) for d in read_pack_files(DEFINITIONS, [])]
    assert [d["id"] for d in documents if not validator.is_valid(d)] == []
    errors = list(validator.iter_errors({"kind": "team", "id": "x", "teir": "L1"}))
    assert any("'teir' was unexpected" in e.message for e in errors)


def test_graph_in_a_language_uses_that_languages_labels(tmp_path: Path) -> None:
    import shutil

    pack = tmp_path / "pack"
    shutil.copytree(DEFINITIONS, pack)
    process = pack / "processes" / "incident.yaml"
    source = process.read_text(encoding="utf-8")
    process.write_text(source.replace("    label: New\n", "    label: {en: New, zh-CN: 新建}\n")
                       .replace("    label: Start work\n", "    label: {en: Start work, zh-CN: 开始处理}\n"),
                       encoding="utf-8")
    code, chinese = run("graph", "incident", "--pack", str(pack), "--language", "zh-CN")
    assert code == 0 and '    state "新建" as new' in chinese.splitlines()
    assert [line for line in chinese.splitlines() if ": 开始处理" in line]  # a transition's label
    code, english = run("graph", "incident", "--pack", str(pack))  # the pack's language: en
    assert code == 0 and '    state "New" as new' in english.splitlines() and "新建" not in english
    code, out = run("graph", "incident", "--pack", str(pack), "--language", "zh_CN")
    assert code == 2 and "not a language tag" in out


def test_graph_of_an_invalid_pack_says_why_there_is_no_graph() -> None:
    broken = ROOT / "tests" / "packs" / "invalid" / "bad_duration"
    result = CliRunner().invoke(main, ["graph", "incident", "--pack", str(broken)])
    assert result.exit_code == 1 and "stateDiagram" not in result.stdout and ": error: " in result.stdout
    assert result.stderr == f"{broken}: no graph: the pack is not valid\n"
