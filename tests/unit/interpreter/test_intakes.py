"""The `intake` kind compiled: frozen mappings, conditions over free-form payloads, diffs that ignore moves."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from itsm.interpreter import load_pack
from itsm.interpreter.diff import diff_packs
from itsm.interpreter.expressions import ExpressionError, NameInfo, Scope, compile_expression

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pack():  # type: ignore[no-untyped-def]
    return load_pack(ROOT / "definitions")


def test_the_default_pack_declares_alertmanager_json_and_mail_intakes(pack) -> None:  # type: ignore[no-untyped-def]
    assert {i.id: i.source for i in pack.intakes.values()} == {
        "alertmanager": "alertmanager", "uptime": "json", "email": "email"}
    alertmanager = pack.intakes["alertmanager"]
    assert alertmanager.key is None and alertmanager.resolve_when is None  # fingerprint, status == 'resolved'
    assert alertmanager.fields["impact"].lookup["critical"] == "high"
    assert alertmanager.on_resolve.transitions == ("resolve",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        alertmanager.process = "review"  # type: ignore[misc]
    with pytest.raises(TypeError):
        alertmanager.fields["x"] = None  # type: ignore[index]
    uptime = pack.intakes["uptime"]
    assert uptime.resolve_when.test({"payload": {"state": "up"}})
    assert not uptime.resolve_when.test({"payload": {"check": "no state here"}})
    assert pack.intakes["email"].unknown_senders == "reject"


def test_open_prefixes_allow_any_path_below_a_root_and_nothing_else() -> None:
    scope = Scope({"status": NameInfo(kind="text")}, open_prefixes=("payload",))
    expression = compile_expression("payload.a.b == 1 and status == 'x'", scope)
    assert expression.test({"payload": {"a": {"b": 1}}, "status": "x"})
    assert not expression.test({"payload": {"a": "flat"}, "status": "x"})  # a path through a non-mapping: null
    with pytest.raises(ExpressionError, match="unknown name 'paylaod.a' \\(did you mean 'payload'\\?\\)"):
        compile_expression("paylaod.a == 1", scope)
    with pytest.raises(ExpressionError, match="names may not start with '_'"):
        compile_expression("payload.__class__ == 1", scope)


def test_diff_reports_what_changed_in_a_mapping_not_where_it_moved(pack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pack.yaml").write_text(f"kind: pack\nid: client\nformat: 1\nextends: {ROOT / 'definitions'}\n"
                                        "---\n\n\n# moved down\nkind: intake\nid: uptime\nfields: {impact: high}\n")
    changes = diff_packs(pack, load_pack(tmp_path))
    assert [c.line() for c in changes] == ["changed intake uptime: fields.impact"]
