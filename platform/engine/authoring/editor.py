"""Editing pack files in place for the web editor (issue 6): one value changed, everything else kept.

ruamel.yaml's round-trip mode keeps comments, key order, flow style and quoting, so changing a matrix
cell changes one line of the file. Every edit is validated with the whole pack before it is kept: an
edit that makes the pack invalid is undone and reported with the usual error lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from itsm.interpreter import DefinitionError, PackSpec, check_pack
from itsm.interpreter.source import resolve_scalar

PathPart = str | int | dict[str, str]  # a key, a list index, or {"id": x}: the list item with that id


class EditRefused(ValueError):
    def __init__(self, message: str, problems: Sequence[DefinitionError] = ()):
        super().__init__(message)
        self.problems = list(problems)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def locate_documents(pack: Path) -> dict[tuple[str, str], tuple[Path, int]]:
    """(kind, id) -> (file, index of the document in it), for the documents of `pack` (not of its base)."""
    yaml = _yaml()
    found: dict[tuple[str, str], tuple[Path, int]] = {}
    for path in sorted(p for p in pack.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()):
        try:
            documents = list(yaml.load_all(path.read_text(encoding="utf-8")))
        except Exception:  # noqa: S112 - a broken file is reported by validation, not here
            continue
        for index, document in enumerate(documents):
            if isinstance(document, dict) and isinstance(document.get("kind"), str):
                found.setdefault((document["kind"], str(document.get("id"))), (path, index))
    return found


def find_document(pack: Path, kind: str, ident: str) -> tuple[Path, int]:
    """The file of `pack` (not of its base) that defines kind/id, and the document's index in it."""
    located = locate_documents(pack).get((kind, ident))
    if located is None:
        raise EditRefused(f"{kind} '{ident}' is not defined in {pack} (an overlay edits only its own documents)")
    return located


def _walk(node: Any, path: Sequence[PathPart]) -> Any:
    for part in path:
        if isinstance(part, dict):
            matches = [item for item in node if isinstance(item, dict) and item.get("id") == part["id"]]
            if not matches:
                raise EditRefused(f"no item with id '{part['id']}'")
            node = matches[0]
        else:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError) as exc:
                raise EditRefused(f"nothing at '{part}'") from exc
    return node


def edit(pack: Path, kind: str, ident: str, path: Sequence[PathPart], value: Any = None, *,
         append: bool = False) -> PackSpec:
    """Set the scalar at `path` (or append `value` to the block list there) and keep the change if the pack
    stays valid; returns the compiled pack. Only the characters of that value (or the appended line) change:
    ruamel.yaml finds where the value is, the edit is made in the original text."""
    if not path:
        raise EditRefused("an edit needs a path")
    file, index = find_document(pack, kind, ident)
    original = file.read_text(encoding="utf-8")
    documents = list(_yaml().load_all(original))
    if append:
        target = _walk(documents[index], path)
        if not isinstance(target, list) or not target:
            raise EditRefused("append needs a non-empty list written as a block (one '- ' item per line)")
        updated = _append_line(original, target, value)
    else:
        parent = _walk(documents[index], path[:-1])
        last = path[-1]
        if isinstance(last, dict) or not _is_scalar(value):
            raise EditRefused("set changes one scalar value: give its key or index and a plain value")
        try:
            positions = parent.lc  # ruamel's line/column bookkeeping of the loaded node
            line, col = positions.value(last) if isinstance(parent, dict) else positions.item(last)
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise EditRefused(f"nothing at '{last}'") from exc
        updated = _replace_scalar(original, line, col, render(value))
    file.write_text(updated, encoding="utf-8")
    spec, problems = check_pack(pack)
    if spec is None:
        file.write_text(original, encoding="utf-8")
        raise EditRefused("the edit would make the pack invalid; nothing was changed",
                          [p for p in problems if p.is_error])
    return spec


_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./@+-]*( [A-Za-z0-9_./@+-]+)*$")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def render(value: Any) -> str:
    """A scalar as YAML: plain when that reads back as the same string, double-quoted otherwise."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if _PLAIN.match(value) and resolve_scalar(value, plain=True) == value:  # reads back as this text
        return value
    return json.dumps(value, ensure_ascii=False)


def _replace_scalar(text: str, line: int, col: int, replacement: str) -> str:
    lines = text.splitlines(keepends=True)
    current = lines[line]
    end = _scalar_end(current, col)
    lines[line] = current[:col] + replacement + current[end:]
    return "".join(lines)


def _scalar_end(line: str, col: int) -> int:
    """Where the scalar starting at `col` ends (one-line scalars: quoted, or plain in block or flow)."""
    quote = line[col] if col < len(line) else ""
    if quote in ("'", '"'):
        i = col + 1
        while i < len(line):
            if quote == '"' and line[i] == "\\":
                i += 2
                continue
            if line[i] == quote:
                if quote == "'" and line[i + 1:i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        raise EditRefused("a quoted value that continues on the next line cannot be edited here")
    i = col
    while i < len(line) and line[i] not in ",}]\n" and not line.startswith(" #", i):
        i += 1
    while i > col and line[i - 1] == " ":
        i -= 1
    return i


def _append_line(text: str, items: Any, value: Any) -> str:
    """Add `- {...}` after the last item of a block list, at the same indentation."""
    if not isinstance(value, dict) or not all(_is_scalar(v) for v in value.values()):
        raise EditRefused("append adds a mapping of plain values, such as {id: x, date: 2026-06-15}")
    lines = text.splitlines(keepends=True)
    line, col = items.lc.item(len(items) - 1)
    dash = lines[line].rfind("- ", 0, col + 1)
    if dash < 0 or lines[line][:dash].strip():
        raise EditRefused("the list is not written as a block (one '- ' item per line)")
    last = line
    for number in range(line + 1, len(lines)):  # the last item may span several lines
        stripped = lines[number].strip()
        indent = len(lines[number]) - len(lines[number].lstrip(" "))
        if stripped and not stripped.startswith("#") and indent <= dash:
            break
        if stripped and not stripped.startswith("#"):
            last = number
    entry = ", ".join(f"{key}: {render(v)}" for key, v in value.items())
    newline = "\n" if lines[last].endswith("\n") else ""
    lines.insert(last + 1, ("" if newline else "\n") + " " * dash + "- {" + entry + "}\n")
    return "".join(lines)
