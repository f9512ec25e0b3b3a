"""Reading pack files into located trees: every value keeps the file, line and column it came from.

Scalars follow the YAML 1.2 core schema (only true/false are booleans, so a choice value `no` stays a
string); timestamps stay text and are parsed where the language expects them. Duplicate keys are errors.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import DefinitionError, Position

try:  # libyaml when present: several times faster on large packs. The base loader resolves no implicit
    # tags (cheap): scalars are resolved here, by the YAML 1.2 core schema.
    from yaml import CBaseLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import BaseLoader as _Loader  # type: ignore[assignment]

PACK_FILES = ("pack.yaml", "pack.yml")
# Limits on what a pack may hold, far above any real pack (the default pack: 33 files, 220 KB; a generated
# pack of 50 processes: 61 documents, files of 6 KB), so a mistake or a hostile folder is an error line,
# never a worker that runs out of memory or time (decisions.md, "Reading packs").
MAX_NODES = 200_000  # values per document, counting alias expansions: refuses "billion laughs"
MAX_DEPTH = 50  # levels of nesting in a document (the default pack uses 7)
MAX_TEXT = 64 * 1024  # characters in one text value or key
MAX_FILE_BYTES = 4 * 1024 * 1024  # one file
MAX_PACK_BYTES = 32 * 1024 * 1024  # all files of one pack folder together
MAX_DOCUMENTS = 5_000  # documents in one pack folder

_INT = re.compile(r"[-+]?[0-9]+$|0o[0-7]+$|0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOATS = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}


@dataclass
class Node:
    """A located value: `value` is a dict of Nodes, a list of Nodes, or a plain scalar."""

    value: Any
    pos: Position
    key_pos: Position | None = None  # where the mapping key naming this value is
    plain: bool = False  # an unquoted scalar (column arithmetic into expressions is exact)
    source: str = ""  # raw scalar text, for messages
    block: int = 0  # a literal block scalar (`|`): the column its lines start at, on the lines after `pos`


@dataclass
class SourceDocument:
    """One YAML document of a pack file, before overlays are applied."""

    file: str  # relative to the root of the pack that holds it
    pack_dir: Path
    node: Node
    index: int = 0  # position of the document in its file
    over_limit: bool = False  # a value past MAX_DEPTH or MAX_TEXT was reported and left out: no shape check

    @property
    def kind(self) -> str | None:
        value = self.node.value
        kind = value.get("kind") if isinstance(value, dict) else None
        return kind.value if isinstance(kind, Node) and isinstance(kind.value, str) else None

    @property
    def id(self) -> str | None:
        value = self.node.value
        ident = value.get("id") if isinstance(value, dict) else None
        return ident.value if isinstance(ident, Node) and isinstance(ident.value, str) else None

    @property
    def subject(self) -> str:
        return f"{self.kind or '?'}/{self.id or '?'}"


@dataclass
class _Builder:
    file: str
    problems: list[DefinitionError]
    lines: _Lines | None = None  # the file's lines, to find where the text of literal block scalars starts
    subject: str = "-"
    count: int = 0
    seen: dict[int, Node] = field(default_factory=dict)
    over_limit: bool = False

    def pos(self, mark: Any) -> Position:
        return Position(self.file, mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, path: tuple[str | int, ...] = ()) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(self.pos(node.start_mark), f"document is too large (more than {MAX_NODES} values)")
        pos = self.pos(node.start_mark)
        if len(path) > MAX_DEPTH:
            if not self.over_limit:  # once per document: a long list of deep items is one mistake
                self._error(pos, (), f"values are nested more than {MAX_DEPTH} levels deep")
            self.over_limit = True
            return Node(None, pos)
        if isinstance(node, yaml.MappingNode):
            items: dict[str, Node] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self._error(self.pos(key_node.start_mark), path, "mapping keys must be plain text")
                    continue
                key = key_node.value
                key_pos = self.pos(key_node.start_mark)
                if len(key) > MAX_TEXT:
                    self._error(key_pos, path, f"a key of {len(key):,} characters (at most {MAX_TEXT:,})")
                    self.over_limit = True
                    continue
                if key == "<<":
                    self._error(key_pos, path, "YAML merge keys (<<) are not supported: use an overlay pack")
                    continue
                if key in items:
                    first = items[key].key_pos
                    where = f" (first at line {first.line})" if first else ""
                    self._error(key_pos, (*path, key), f"duplicate key '{key}'{where}")
                    continue
                child = self.build(value_node, (*path, key))
                child.key_pos = key_pos
                items[key] = child
            return Node(items, pos)
        if isinstance(node, yaml.SequenceNode):
            return Node([self.build(item, (*path, i)) for i, item in enumerate(node.value)], pos)
        assert isinstance(node, yaml.ScalarNode)
        plain = not node.style  # None (pure-Python composer) or "" (libyaml) for plain scalars
        if len(node.value) > MAX_TEXT:
            self._error(pos, path, f"a text of {len(node.value):,} characters (at most {MAX_TEXT:,}): shorten it")
            self.over_limit = True
            return Node(None, pos)
        block = self._block_column(node) if node.style == "|" else 0
        return Node(resolve_scalar(node.value, plain), pos, plain=plain, source=node.value, block=block)

    def _block_column(self, node: yaml.ScalarNode) -> int:
        """Where the text of a literal block starts: its first non-blank line's indentation in the file, less
        the spaces that belong to the text (line N of the value is line N after the `|`)."""
        for offset, line in enumerate(node.value.split("\n"), start=1):
            if line.strip():
                in_file = self.lines.line(node.start_mark.line + offset) if self.lines else ""
                indent = len(in_file) - len(in_file.lstrip(" "))
                return max(1, indent - (len(line) - len(line.lstrip(" "))) + 1) if in_file.strip() else 0
        return 0

    def _error(self, pos: Position, path: tuple[str | int, ...], message: str) -> None:
        from .errors import format_path

        self.problems.append(DefinitionError(pos, self.subject, format_path(path), message))


class _Lines:
    """The lines of a pack file, split only when a literal block scalar needs them."""

    def __init__(self, text: str):
        self.text = text
        self._lines: list[str] | None = None

    def line(self, index: int) -> str:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines[index] if 0 <= index < len(self._lines) else ""


class _TooLarge(Exception):
    """A document past a limit: reported once, and the document is not used."""

    def __init__(self, pos: Position, message: str):
        self.pos, self.message = pos, message


def resolve_scalar(text: str, plain: bool) -> Any:
    """YAML 1.2 core schema for unquoted scalars; quoted scalars are always strings."""
    if not plain:
        return text
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text, 0) if text.startswith(("0o", "0x")) else int(text)
    if text.lower() in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text.lower()]
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text)
    return text


def read_pack_files(pack_dir: Path, problems: list[DefinitionError]) -> list[SourceDocument]:
    """Every document of every *.yaml/*.yml file under `pack_dir`, sorted by path.

    Hidden folders (`.git`, `.github`) and sub-folders holding a pack of their own (a `pack.yaml`,
    such as a client overlay kept inside its base) are not part of this pack. Symbolic links to folders
    are not followed; a link to a file outside the pack folder is an error, not read.
    """
    files: list[Path] = []
    for folder, dirs, names in os.walk(pack_dir):
        here = Path(folder)
        dirs[:] = [d for d in dirs if not d.startswith(".")
                   and not any((here / d / n).is_file() for n in PACK_FILES)]
        files.extend(here / n for n in names if n.endswith((".yaml", ".yml")) and not n.startswith("."))
    inside = pack_dir.resolve()
    documents: list[SourceDocument] = []
    size = 0
    for path in sorted(files, key=lambda p: p.relative_to(pack_dir).as_posix()):
        rel = path.relative_to(pack_dir).as_posix()
        if path.is_symlink() and not path.resolve().is_relative_to(inside):
            problems.append(DefinitionError(Position(rel, 1, 1), "-", "-", "a symbolic link to a file outside "
                                            f"the pack folder ({os.readlink(path)}): copy the file into the pack"))
            continue
        read = _read_limited(path, rel, problems)
        if read is None:
            continue
        text, size = read[0], size + read[1]
        if size > MAX_PACK_BYTES:
            problems.append(DefinitionError(Position(rel, 1, 1), "-", "-", "the pack's files are larger than "
                                            f"{MAX_PACK_BYTES // 2**20} MiB together: this file and those after it "
                                            "are not read"))
            break
        documents.extend(read_text(text, rel, pack_dir, problems, MAX_DOCUMENTS - len(documents)))
        if len(documents) >= MAX_DOCUMENTS:
            break  # read_text said so at the document past the limit, if there was one in that file
    return documents


def read_file(path: Path, rel: str, pack_dir: Path, problems: list[DefinitionError]) -> list[SourceDocument]:
    read = _read_limited(path, rel, problems)
    return [] if read is None else read_text(read[0], rel, pack_dir, problems)


def _read_limited(path: Path, rel: str, problems: list[DefinitionError]) -> tuple[str, int] | None:
    """The file's text and size, or None with the reason in `problems`: unreadable, not UTF-8, not a
    regular file (a named pipe would block the reader forever), or larger than MAX_FILE_BYTES."""
    def refuse(reason: str) -> None:
        problems.append(DefinitionError(Position(rel, 1, 1), "-", "-", reason))

    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(handle, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                refuse("not a regular file: a pack holds YAML files")
                return None
            data = file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            refuse(f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB: split it into several files")
            return None
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), len(data)  # as text-mode open()
    except (OSError, UnicodeDecodeError) as exc:
        refuse(f"cannot read file: {exc}")
        return None


def read_text(text: str, rel: str, pack_dir: Path, problems: list[DefinitionError],
              max_documents: int = MAX_DOCUMENTS) -> list[SourceDocument]:
    documents: list[SourceDocument] = []
    lines = _Lines(text)
    try:
        for index, root in enumerate(yaml.compose_all(text, Loader=_Loader)):
            if root is None or _is_empty(root):
                continue  # an empty document (a file that ends with `---`, or only comments between two)
            builder = _Builder(rel, problems, lines)
            builder.subject = _guess_subject(root)
            if len(documents) >= max_documents:
                problems.append(DefinitionError(builder.pos(root.start_mark), builder.subject, "-",
                                                f"more than {MAX_DOCUMENTS:,} documents in the pack: this one "
                                                "and those after it are not read"))
                break
            try:
                node = builder.build(root)
            except _TooLarge as exc:
                problems.append(DefinitionError(exc.pos, builder.subject, "-", exc.message))
                continue
            documents.append(SourceDocument(rel, pack_dir, node, index, builder.over_limit))
    except RecursionError:  # only without libyaml, whose parser stops at 1,000 levels with a syntax error
        problems.append(DefinitionError(Position(rel, 1, 1), "-", "-",
                                        f"values are nested more than {MAX_DEPTH} levels deep"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(rel, mark.line + 1, mark.column + 1) if mark else Position(rel, 1, 1)
        reason = exc.problem or "invalid YAML"
        if exc.context:
            reason = f"{reason} ({exc.context})"
        if mark and _char_at(text, mark.line, mark.column) == "\t":
            reason = "found a tab character: indent with spaces"
        problems.append(DefinitionError(pos, "-", "-", f"YAML syntax error: {reason}"))
    except yaml.YAMLError as exc:
        problems.append(DefinitionError(Position(rel, 1, 1), "-", "-", f"YAML syntax error: {exc}"))
    return documents


def _is_empty(root: yaml.Node) -> bool:
    return isinstance(root, yaml.ScalarNode) and root.value == "" and not root.style


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    return lines[line][column] if line < len(lines) and column < len(lines[line]) else ""


def _guess_subject(root: yaml.Node) -> str:
    kind = ident = "?"
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode):
                if key.value == "kind":
                    kind = value.value
                elif key.value == "id":
                    ident = value.value
    return f"{kind}/{ident}"


def from_plain(value: Any, file: str) -> Node:
    """A located tree for data that has no file (a stored version): every position is line 1 of `file`."""
    pos = Position(file, 1, 1)
    if isinstance(value, dict):
        node = Node({str(k): from_plain(v, file) for k, v in value.items()}, pos)
        for child in node.value.values():
            child.key_pos = pos
        return node
    if isinstance(value, list):
        return Node([from_plain(v, file) for v in value], pos)
    return Node(value, pos, plain=True, source=str(value))


def to_plain(node: Node) -> Any:
    """The plain data of a located tree (dicts, lists, scalars)."""
    value = node.value
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value
